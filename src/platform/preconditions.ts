/**
 * `If-Match` on PATCH and DELETE (RFC 9110 §13.1.1): optimistic concurrency. The tag a client
 * sends is the strong `ETag` of the representation it read (the SHA-256 of the GET answer, see
 * `read-cache.ts`); the write goes ahead only if the resource is still that representation.
 *
 * The check is a compare-and-set, not a read-then-write: the current representation is read
 * once, compared with the tag, and the write is then made conditional on the version that was
 * read (its `updatedAt`, and what else the representation counts), so a change that lands
 * between the two is caught by the write itself and answers 412 too.
 */
import { etagOf } from './read-cache.ts';
import { Problem } from './problem.ts';

/** The 412 for a write whose precondition does not hold. */
export function preconditionFailed(detail = 'The resource has changed since the ETag in If-Match: read it again, then retry.'): Problem {
  return new Problem('precondition-failed', detail);
}

/**
 * Checks `If-Match` against the current representation (read only when the header is there).
 * @returns the representation the write must still find, or `undefined` without `If-Match`.
 * @throws Problem 412 when nothing matches (`*` matches any existing representation).
 */
export async function checkIfMatch<T extends object>(header: string | undefined, readCurrent: () => Promise<T | undefined>): Promise<T | undefined> {
  if (header === undefined) return undefined;
  const current = await readCurrent();
  if (current === undefined) throw preconditionFailed('Nothing exists here for If-Match to match.');
  if (header.trim() === '*') return current;
  const etag = await etagOf(JSON.stringify(current));
  const tags = header.split(',').map((tag) => tag.trim());
  // Weak tags never match in If-Match (strong comparison).
  if (!tags.includes(etag)) throw preconditionFailed();
  return current;
}
