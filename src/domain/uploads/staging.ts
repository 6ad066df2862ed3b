/**
 * Staged uploads in Redis. Each upload owns two keys, both expiring at the same instant:
 * - `upload:<id>`: its status as JSON ({@link UploadMeta});
 * - `upload:<id>:chunks`: a list of chunks (JSON, see `chunks.ts`), in file order.
 * Writes go through MULTI/EXEC, so a list never exists without its expiry, and the status key is
 * written last, with the final chunks: an upload is visible only once all of it is staged.
 */
import type { Redis } from '../../platform/redis.ts';
import type { Chunk } from './chunks.ts';
import type { UploadType } from './kinds.ts';

export type OnConflict = 'error' | 'update';

export interface UploadMeta {
  id: string;
  type: UploadType;
  onConflict: OnConflict;
  status: 'staged' | 'committed';
  rows: number;
  chunks: number;
  createdAt: string;
  expiresAt: string;
  committedAt?: string;
  inserted?: number;
  updated?: number;
}

const metaKey = (id: string) => `upload:${id}`;
const chunksKey = (id: string) => `upload:${id}:chunks`;

/** The Redis keys one upload owns: its status and its list of chunks. */
export function uploadKeys(id: string): { meta: string; chunks: string } {
  return { meta: metaKey(id), chunks: chunksKey(id) };
}

/** Writes one upload's chunks as they fill, then its status; or takes back what it wrote. */
export class StagedWriter {
  readonly #redis: Redis;
  readonly #id: string;
  readonly #expiresAt: number;
  #written = 0;

  constructor(redis: Redis, id: string, expiresAt: Date) {
    this.#redis = redis;
    this.#id = id;
    this.#expiresAt = expiresAt.getTime();
  }

  /** Chunks written so far. */
  get written(): number {
    return this.#written;
  }

  /** Appends chunks (and, last, the status) in one round trip. */
  async write(chunks: readonly Chunk[], meta?: UploadMeta): Promise<void> {
    const multi = this.#redis.multi();
    if (chunks.length > 0) {
      multi.rpush(chunksKey(this.#id), ...chunks.map((chunk) => JSON.stringify(chunk)));
      multi.pexpireat(chunksKey(this.#id), this.#expiresAt);
    }
    if (meta) multi.set(metaKey(this.#id), meta, { pxat: this.#expiresAt });
    await multi.exec();
    this.#written += chunks.length;
  }

  /** Removes chunks written for an upload that turned out invalid (none: no round trip). */
  async discard(): Promise<void> {
    if (this.#written > 0) await this.#redis.del(chunksKey(this.#id));
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

/** Deletes an upload; `false` when there was none. */
export async function deleteUpload(redis: Redis, id: string): Promise<boolean> {
  return (await redis.del(metaKey(id), chunksKey(id))) > 0;
}
