/**
 * Bookmarks: opaque tokens of a position in the primary's write-ahead log, so that a client
 * reads its own writes (and never goes back in time) while reads are spread over replicas
 * that lag. The same idea as Cloudflare D1's Sessions, for Postgres.
 *
 * A bookmark is an LSN, plus — after a write — the id of the transaction that wrote. The LSN is
 * read inside the writing transaction, before its commit record exists, so "replayed that far"
 * alone would not prove the commit visible; the transaction id does: a replica serves a
 * bookmarked read only when it has replayed the LSN *and* that transaction is visible in its
 * snapshot. After a read, the bookmark is the LSN the serving database had reached when the
 * query was done, which is at least the state the client saw.
 *
 * Wire form: 16 hex digits of the LSN, then `-` and the transaction id when there is one.
 */

export interface Bookmark {
  /** A WAL position, as a 64-bit number. */
  lsn: bigint;
  /** The writing transaction (`xid8`, decimal), when the bookmark comes from a write. */
  xid?: string | undefined;
}

const WIRE = /^([0-9a-f]{16})(?:-([1-9][0-9]{0,19}))?$/;

/** Parses a client's `X-Bookmark`; `undefined` when it is not one this API issued. */
export function parseBookmark(token: string): Bookmark | undefined {
  const match = WIRE.exec(token.trim());
  if (!match) return undefined;
  return { lsn: BigInt(`0x${match[1]}`), xid: match[2] };
}

export function formatBookmark({ lsn, xid }: Bookmark): string {
  const hex = lsn.toString(16).padStart(16, '0');
  return xid === undefined ? hex : `${hex}-${xid}`;
}

/** Postgres's `pg_lsn` text (`16/B374D848`) as a number. */
export function lsnFromText(text: string): bigint {
  const [high, low] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** A number as Postgres's `pg_lsn` text. */
export function lsnToText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
