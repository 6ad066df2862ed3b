/**
 * Resumable uploads (draft-ietf-httpbis-resumable-upload): a file sent as pieces, each appended
 * at the offset the server has. A piece may end anywhere — mid-row, mid-quoted-field, inside a
 * UTF-8 character — because validation carries its whole state from one piece to the next in
 * Redis (`upload:<id>:resume`): the decoder's pending bytes, the CSV reader's open record, quote
 * state and line counter, and the stager's header, row count, errors and preview. Rows that
 * are complete are validated and staged as they arrive; line numbers are the whole file's.
 *
 * An append that loses its connection keeps what arrived: the bytes read so far become the new
 * offset (whole rows staged, the open row carried). Only one append runs at a time (a lock in
 * Redis, `SET NX`, holding the append's random token); the offset moves only when the state that
 * describes it is written, in the same script as the piece's last chunks.
 *
 * The lock expires (an append whose Worker died must not block the upload), so an append that
 * stalls past it may find another one has taken over: every write of an append (chunks, ids,
 * state, discarding, releasing) runs only while the lock still holds its token, checked in the
 * same script as the write (`runWrite` in staging.ts). The stalled append then writes nothing
 * and is refused with the upload's offset, as a concurrent append is.
 */
import type { Redis } from '../../platform/redis.ts';
import type { Database } from '../../platform/database.ts';
import { DomainError } from '../errors.ts';
import { CsvReader, Utf8Decoder, utf8Text, type CsvReaderState, type Utf8DecoderState } from './csv.ts';
import type { UploadKind } from './kinds.ts';
import { Stager, type StagedUpload, type StagerState } from './stage.ts';
import { AppendLockLost, earlierIds, StagedWriter, readMeta, runWrite, uploadKeys, type AppendLock, type OnConflict, type StagingQuota, type UploadMeta } from './staging.ts';

/** What an upload carries between pieces. */
interface ResumeState {
  decoder: Utf8DecoderState;
  reader: CsvReaderState;
  stager: StagerState;
  /** Ids recorded in `upload:<id>:ids` (none: no earlier piece to look up). */
  idsRemembered: number;
}

export interface ResumableSettings {
  /** Largest file (all pieces). */
  maxBytes: number;
  /** Largest piece (one request). */
  maxPieceBytes: number;
  maxRows: number;
  ttlSeconds: number;
}

/**
 * How long an append holds its upload without writing to Redis before another may take over
 * (a Worker that died mid-append must not block the upload for long; each staged part extends it).
 */
const APPEND_LOCK_MS = 60_000;
/** The 409 of a refused append, with the offset the client should resume from (the draft's `expected-offset` / `provided-offset`). */
function offsetConflict(detail: string, offset: number, provided: number, complete = false): DomainError {
  return new DomainError('conflict', detail, { uploadOffset: offset, uploadComplete: complete, 'expected-offset': offset, 'provided-offset': provided });
}

/**
 * Creates a resumable upload with nothing received yet (one round trip).
 * @returns its status, `receiving` at offset 0.
 */
export async function createResumable(redis: Redis, kind: UploadKind, onConflict: OnConflict, ttlSeconds: number): Promise<UploadMeta> {
  const id = crypto.randomUUID();
  const createdAt = new Date();
  const expiresAt = new Date(createdAt.getTime() + ttlSeconds * 1000);
  const meta: UploadMeta = {
    id,
    type: kind.type,
    onConflict,
    status: 'receiving',
    rows: 0,
    chunks: 0,
    offset: 0,
    errorCount: 0,
    createdAt: createdAt.toISOString(),
    expiresAt: expiresAt.toISOString(),
  };
  const state: ResumeState = {
    decoder: new Utf8Decoder().state,
    reader: new CsvReader().save(),
    stager: { headerWidth: 0, rows: 0, errors: { listed: [], count: 0 }, preview: [], written: 0, counted: 0 },
    idsRemembered: 0,
  };
  const keys = uploadKeys(id);
  await redis.multi().set(keys.resume, state, { pxat: expiresAt.getTime() }).set(keys.meta, meta, { pxat: expiresAt.getTime() }).exec();
  return meta;
}

export interface AppendRequest {
  id: string;
  kinds: Record<UploadMeta['type'], UploadKind>;
  /** Where the client believes the upload stands (bytes received). */
  offset: number;
  /** This piece ends the file. */
  complete: boolean;
  /** The piece's bytes; a connection that breaks ends it early (see {@link dropped}). */
  body: AsyncIterable<Uint8Array>;
  /** True once the body ended because its connection broke, not because the piece was sent. */
  dropped: () => boolean;
  settings: ResumableSettings;
  quota?: StagingQuota | undefined;
}

/** After an append: still receiving (its status), or complete and staged. */
export type AppendResult = { complete: false; meta: UploadMeta } | { complete: true; staged: StagedUpload };

/**
 * Appends one piece. Round trips: one to take the lock and read the state, the staging ones of
 * the rows (as for a single request), per window the id checks and records (see `Stager`), one to save the state.
 * @throws DomainError `not-found`; `conflict` (`uploadOffset`: the offset is not the upload's,
 *   another append is running, the upload is complete, or this append stalled past its lock and
 *   wrote nothing); `too-large` with `maxPieceBytes` (the
 *   upload stays as it was); `invalid` or another `too-large` (the upload is then discarded,
 *   nothing staged); `quota-exceeded` (likewise).
 */
export async function appendPiece(db: Database, redis: Redis, request: AppendRequest): Promise<AppendResult> {
  const { id, settings } = request;
  const keys = uploadKeys(id);
  const lock: AppendLock = { key: keys.append, token: crypto.randomUUID(), ms: APPEND_LOCK_MS };
  const [locked, meta, state] = await redis
    .pipeline()
    .set(lock.key, lock.token, { nx: true, px: lock.ms })
    .get<UploadMeta>(keys.meta)
    .get<ResumeState>(keys.resume)
    .exec<[string | null, UploadMeta | null, ResumeState | null]>();
  // Only while the lock is still this append's: another may hold it by now.
  const release = () => runWrite(redis, [['DEL', lock.key]], { lock }).catch(() => {});
  if (!meta) {
    if (locked) await release();
    throw new DomainError('not-found', `There is no upload "${id}" (uploads are forgotten when they expire).`);
  }
  if (meta.status !== 'receiving' || !state) {
    if (locked) await release();
    throw offsetConflict(`Upload "${id}" is complete (${meta.status}); it takes no more pieces.`, meta.offset ?? 0, request.offset, true);
  }
  if (!locked) throw offsetConflict(`Another append to upload "${id}" is running; resume from the upload's offset once it ends.`, meta.offset!, request.offset);
  if (meta.offset !== request.offset) {
    await release();
    throw offsetConflict(`Upload "${id}" has ${meta.offset} bytes, not ${request.offset}: send the piece from offset ${meta.offset}.`, meta.offset!, request.offset);
  }

  const kind = request.kinds[meta.type];
  const expiresAt = Date.parse(meta.expiresAt);
  const writer = new StagedWriter(redis, id, new Date(expiresAt), request.quota, { written: state.stager.written, counted: state.stager.counted, lock });
  const decoder = new Utf8Decoder(state.decoder);
  const reader = CsvReader.restore(state.reader);
  const earlier = earlierIds(redis, id, { expiresAt, remembered: state.idsRemembered, firstLine: reader.recordLine, lock });
  const stager = Stager.restore(db, { kind, onConflict: meta.onConflict, settings }, { writer, earlier }, state.stager);
  try {
    for await (const text of utf8Text(pieceOf(request.body, settings.maxPieceBytes), settings.maxBytes, decoder)) {
      const records = reader.push(text);
      if (records.length > 0) await stager.add(records);
    }
    if (request.complete && !request.dropped()) {
      decoder.end();
      await stager.add(reader.end());
      const staged = await stager.finish(
        { id, type: meta.type, onConflict: meta.onConflict, status: 'staged', offset: decoder.state.bytes, createdAt: meta.createdAt, expiresAt: meta.expiresAt },
        [['DEL', keys.resume, keys.ids, keys.append]],
      );
      return { complete: true, staged };
    }
    const received: UploadMeta = { ...meta, offset: decoder.state.bytes };
    await stager.pause(async (chunks, stagerState) => {
      Object.assign(received, { rows: stagerState.rows, chunks: stagerState.written, errorCount: stagerState.errors.count });
      const next: ResumeState = { decoder: decoder.state, reader: reader.save(), stager: stagerState, idsRemembered: earlier.count };
      await writer.write(chunks, received, [['SET', keys.resume, JSON.stringify(next), 'PXAT', expiresAt], ['DEL', keys.append]]);
    });
    return { complete: false, meta: received };
  } catch (error) {
    if (error instanceof AppendLockLost) throw await overtaken(redis, id, request.offset);
    if (error instanceof DomainError && error.details.maxPieceBytes === undefined) {
      // The file cannot become a valid upload: nothing of it stays staged.
      const discarded = await writer.discard([['DEL', keys.resume, keys.ids, keys.append]]).then(
        () => true,
        (failure: unknown) => !(failure instanceof AppendLockLost),
      );
      if (!discarded) throw await overtaken(redis, id, request.offset);
    } else {
      // A dependency failed, or the piece was too large: the upload stays at its last saved offset
      // (chunks staged past it are trimmed by the next append).
      await release();
    }
    throw error;
  }
}

/** The 409 of an append whose lock expired while it stalled: another append has the upload (or may take it) from its offset now. */
async function overtaken(redis: Redis, id: string, provided: number): Promise<DomainError> {
  const meta = await readMeta(redis, id);
  if (!meta) return new DomainError('not-found', `There is no upload "${id}" any more: it was deleted or discarded while this append stalled.`);
  return offsetConflict(
    `This append to upload "${id}" stalled past its lock, and another append may have taken over; nothing of this piece was kept; resume from the upload's offset.`,
    meta.offset ?? 0,
    provided,
    meta.status !== 'receiving',
  );
}

/** The body of one piece, refused with 413 past `maxBytes`. */
async function* pieceOf(body: AsyncIterable<Uint8Array>, maxBytes: number): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    if (bytes > maxBytes) throw new DomainError('too-large', `A piece may have at most ${maxBytes} bytes; send the file in smaller pieces.`, { maxPieceBytes: maxBytes });
    yield chunk;
  }
}
