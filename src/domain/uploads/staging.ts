/**
 * Staged uploads in Redis. Each upload owns these keys, all expiring at the same instant:
 * - `upload:<id>`: its status as JSON ({@link UploadMeta});
 * - `upload:<id>:chunks`: a list of chunks (JSON, see `chunks.ts`), in file order.
 * A resumable upload still receiving its pieces also has (see `resumable.ts`):
 * - `upload:<id>:resume`: what validation carries from one piece to the next;
 * - `upload:<id>:ids`: a hash of the ids of earlier pieces → their line (duplicates across pieces);
 * - `upload:<id>:append`: held while one append runs (a second one is refused).
 * Writes go through MULTI/EXEC, so a list never exists without its expiry, and the status key is
 * written last, with the final chunks: an upload is visible only once all of it is staged (a
 * resumable one, once its state and the chunks it describes are).
 */
import type { Redis } from '../../platform/redis.ts';
import { DomainError } from '../errors.ts';
import type { Chunk } from './chunks.ts';
import type { UploadType } from './kinds.ts';

export type OnConflict = 'error' | 'update';

export interface UploadMeta {
  id: string;
  type: UploadType;
  onConflict: OnConflict;
  /** `receiving`: a resumable upload still taking pieces (`offset` bytes so far). */
  status: 'receiving' | 'staged' | 'committed';
  rows: number;
  /** Bytes received (resumable uploads). */
  offset?: number;
  /** Invalid cells and rows found so far (while receiving: reported in full by the last piece). */
  errorCount?: number;
  chunks: number;
  createdAt: string;
  expiresAt: string;
  committedAt?: string;
  inserted?: number;
  updated?: number;
}

const metaKey = (id: string) => `upload:${id}`;
const chunksKey = (id: string) => `upload:${id}:chunks`;

/** The Redis keys one upload owns: its status, its list of chunks and, while receiving, its carry-over state, ids and append lock. */
export function uploadKeys(id: string): { meta: string; chunks: string; resume: string; ids: string; append: string } {
  return { meta: metaKey(id), chunks: chunksKey(id), resume: `upload:${id}:resume`, ids: `upload:${id}:ids`, append: `upload:${id}:append` };
}

/**
 * How many staged bytes one client may have in Redis: counted per `subject` over a window as
 * long as an upload lives, so staged data that could still exist is what is bounded.
 */
export interface StagingQuota {
  subject: string;
  maxBytes: number;
  windowSeconds: number;
}

const quotaKey = (subject: string) => `quota:staged-bytes:${subject}`;

/**
 * Writes one upload's chunks as they fill, then its status; or takes back what it wrote. With a
 * quota, each write also counts its bytes in the same MULTI; a write that takes the client over
 * its quota is refused (and everything this upload wrote is taken back).
 */
export class StagedWriter {
  readonly #redis: Redis;
  readonly #id: string;
  readonly #expiresAt: number;
  readonly #quota: StagingQuota | undefined;
  #written = 0;
  #counted = 0;
  /** A resumed upload's first write drops chunks past `written` (left by an append that never saved its state). */
  #trim = false;

  /** A lock this writer's upload holds (a resumable append): each write extends it by `ms`. */
  #lock: { key: string; ms: number } | undefined;

  constructor(
    redis: Redis,
    id: string,
    expiresAt: Date,
    quota?: StagingQuota,
    resumed?: { written: number; counted: number; lock: { key: string; ms: number } },
  ) {
    this.#redis = redis;
    this.#id = id;
    this.#expiresAt = expiresAt.getTime();
    this.#quota = quota;
    if (resumed) {
      this.#written = resumed.written;
      this.#counted = resumed.counted;
      this.#trim = true;
      this.#lock = resumed.lock;
    }
  }

  /** Bytes counted against the quota once `chunks` are written too (a resumable upload saves it with them). */
  countedWith(chunks: readonly Chunk[]): number {
    if (!this.#quota) return this.#counted;
    return chunks.reduce((sum, chunk) => sum + JSON.stringify(chunk).length, this.#counted);
  }

  /** Chunks written so far. */
  get written(): number {
    return this.#written;
  }

  /**
   * Appends chunks (and, last, the status) in one round trip.
   * @throws DomainError `quota-exceeded` when the chunks take the client over its quota.
   */
  async write(chunks: readonly Chunk[], meta?: UploadMeta, also?: (multi: ReturnType<Redis['multi']>) => void): Promise<void> {
    const multi = this.#redis.multi();
    const trimmed = this.#trim;
    if (trimmed) {
      if (this.#written === 0) multi.del(chunksKey(this.#id));
      else multi.ltrim(chunksKey(this.#id), 0, this.#written - 1);
      this.#trim = false;
    }
    const texts = chunks.map((chunk) => JSON.stringify(chunk));
    const bytes = texts.reduce((sum, text) => sum + text.length, 0);
    const quota = this.#quota !== undefined && bytes > 0 ? this.#quota : undefined;
    if (quota) {
      multi.set(quotaKey(quota.subject), 0, { nx: true, ex: quota.windowSeconds });
      multi.incrby(quotaKey(quota.subject), bytes);
      multi.pttl(quotaKey(quota.subject));
    }
    if (texts.length > 0) {
      multi.rpush(chunksKey(this.#id), ...texts);
      multi.pexpireat(chunksKey(this.#id), this.#expiresAt);
    }
    if (meta) multi.set(metaKey(this.#id), meta, { pxat: this.#expiresAt });
    if (this.#lock) multi.pexpire(this.#lock.key, this.#lock.ms);
    also?.(multi);
    const results = await multi.exec<unknown[]>();
    this.#written += chunks.length;
    if (!quota) return;
    this.#counted += bytes;
    const at = trimmed ? 1 : 0;
    const [used, ttlMs] = [results[at + 1] as number, results[at + 2] as number];
    if (used > quota.maxBytes) {
      throw new DomainError('quota-exceeded', `Staging this upload would exceed your quota of ${quota.maxBytes} staged bytes; nothing was staged.`, {
        quotaBytes: quota.maxBytes,
        retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
      });
    }
  }

  /** Takes back whatever this upload wrote, and the bytes it counted (nothing written: no round trip). */
  async discard(): Promise<void> {
    if (this.#written === 0 && this.#counted === 0) return;
    const pipeline = this.#redis.pipeline().del(chunksKey(this.#id), metaKey(this.#id));
    if (this.#quota && this.#counted > 0) pipeline.decrby(quotaKey(this.#quota.subject), this.#counted);
    await pipeline.exec();
  }
}

/** An upload's status, or `null` when unknown or expired. */
export function readMeta(redis: Redis, id: string): Promise<UploadMeta | null> {
  return redis.get<UploadMeta>(metaKey(id));
}

/** The status and the first `count` chunks, in one round trip. */
export async function readMetaAndChunks(redis: Redis, id: string, count: number): Promise<{ meta: UploadMeta | null; chunks: Chunk[] }> {
  const [meta, chunks] = await redis.pipeline().get<UploadMeta>(metaKey(id)).lrange<Chunk>(chunksKey(id), 0, count - 1).exec();
  return { meta, chunks };
}

/** `count` chunks from position `from`. */
export function readChunks(redis: Redis, id: string, from: number, count: number): Promise<Chunk[]> {
  return redis.lrange<Chunk>(chunksKey(id), from, from + count - 1);
}

/** Records the commit (the status stays readable until the upload expires) and frees the chunks, in one round trip. */
export async function markCommitted(redis: Redis, meta: UploadMeta): Promise<void> {
  await redis
    .pipeline()
    .set(metaKey(meta.id), meta, { pxat: Date.parse(meta.expiresAt) })
    .del(chunksKey(meta.id))
    .exec();
}

/**
 * Deletes an upload (every key it owns); `false` when there was none. It takes the append lock
 * first, so it never deletes under a running append (which would save its state again and bring
 * the upload back): that is a `conflict`.
 */
export async function deleteUpload(redis: Redis, id: string): Promise<boolean> {
  const keys = uploadKeys(id);
  const claimed = await redis.set(keys.append, 'deleting', { nx: true, px: 10_000 });
  if (claimed !== 'OK') throw new DomainError('conflict', `A piece is being appended to upload "${id}"; delete it once that append has answered.`);
  const [metaDeleted] = await redis.pipeline().del(keys.meta).del(keys.chunks, keys.resume, keys.ids, keys.append).exec<[number, number]>();
  return metaDeleted > 0;
}
