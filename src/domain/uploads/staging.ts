/**
 * Staged uploads in Redis. Each upload owns these keys, all expiring at the same instant:
 * - `upload:<id>`: its status as JSON ({@link UploadMeta});
 * - `upload:<id>:chunks`: a list of chunks (JSON, see `chunks.ts`), in file order.
 * While its rows are read, an upload has:
 * - `upload:<id>:ids`: a hash of the ids of the rows settled so far → their line and tag (duplicates
 *   across windows and pieces, see {@link earlierIds}); none until a window fills.
 * A resumable upload still receiving its pieces also has (see `resumable.ts`):
 * - `upload:<id>:resume`: what validation carries from one piece to the next;
 * - `upload:<id>:append`: held while one append runs (a second one is refused); its value is that
 *   append's token, which fences its writes (see {@link runWrite}).
 * Each write is one atomic script, so a list never exists without its expiry, and the status key is
 * written last, with the final chunks: an upload is visible only once all of it is staged (a
 * resumable one, once its state and the chunks it describes are).
 */
import type { Redis } from '../../platform/redis.ts';
import { DomainError } from '../errors.ts';
import type { Chunk, ChunkText } from './chunks.ts';
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

/** A Redis command: its name, then its arguments. */
export type RedisCommand = [name: string, ...args: (string | number)[]];

/** The append lock a resumable append holds: its key, this append's token (the key's value), how long each write extends it. */
export interface AppendLock {
  key: string;
  token: string;
  ms: number;
}

/** A quota counter a write adds `bytes` to, refused past `maxBytes` (the counter lives `windowSeconds` from its first write). */
interface QuotaCharge {
  key: string;
  bytes: number;
  maxBytes: number;
  windowSeconds: number;
}

/**
 * KEYS: every key the script touches (Redis and Upstash route and check access by them), the
 * lock first when there is one. ARGV[1]: the token the lock (KEYS[1]) must hold ('' for no
 * lock). ARGV[2]: a quota counter to add ARGV[3] to, up to ARGV[4], living ARGV[5] seconds (''
 * for none). Then each command as its argument count and its arguments; `HSETPACKED key packed`
 * is the script's own: `HSET` of the fields and values listed in `packed` (`field,value,` over
 * and over; neither has a comma), one argument where `HSET` takes two per field: a batch of
 * 250,000 fields is one argument for Redis to parse, not 500,000. Returns {'written',
 * replies…}, {'lock'} or {'quota', its PTTL}; a refused write has written and counted nothing.
 */
const WRITE_SCRIPT = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lock'} end
if ARGV[2] ~= '' then
  redis.call('SET', ARGV[2], 0, 'NX', 'EX', ARGV[5])
  if redis.call('INCRBY', ARGV[2], ARGV[3]) > tonumber(ARGV[4]) then
    redis.call('DECRBY', ARGV[2], ARGV[3])
    return {'quota', redis.call('PTTL', ARGV[2])}
  end
end
local function hsetPacked(key, packed)
  local fields, n, added = {}, 0, 0
  for field, value in string.gmatch(packed, '([^,]*),([^,]*),') do
    fields[n + 1], fields[n + 2], n = field, value, n + 2
    if n == 4000 then
      added = added + redis.call('HSET', key, unpack(fields, 1, n))
      n = 0
    end
  end
  if n > 0 then added = added + redis.call('HSET', key, unpack(fields, 1, n)) end
  return added
end
local replies, at = {'written'}, 6
while at <= #ARGV do
  local count = tonumber(ARGV[at])
  if ARGV[at + 1] == 'HSETPACKED' then
    replies[#replies + 1] = hsetPacked(ARGV[at + 2], ARGV[at + 3])
  else
    replies[#replies + 1] = redis.call(unpack(ARGV, at + 1, at + count))
  end
  at = at + count + 1
end
return replies
`;

/** The keys a command touches: every argument of `DEL`, the first of the others used here. */
function keysOf([name, ...args]: RedisCommand): string[] {
  return (name === 'DEL' ? args : args.slice(0, 1)).map(String);
}

type WriteOutcome = { written: true; replies: unknown[] } | { written: false; refused: 'lock' } | { written: false; refused: 'quota'; ttlMs: number };

/**
 * Runs `commands` in order and atomically, in one round trip; with `quota`, only if the bytes fit
 * (counted in the same step). With `lock`, only while the lock still holds this append's token:
 * an append that stalled past its lock's expiry, while another took the upload over, must not
 * write over that one's chunks and state. The check and the writes are one Lua script because
 * MULTI/EXEC cannot make writes conditional except through WATCH, which needs a connection kept
 * between requests (Upstash's REST API has none); Upstash, Redis and both local stand-ins run scripts.
 */
export async function runWrite(redis: Redis, commands: RedisCommand[], guards: { lock?: AppendLock | undefined; quota?: QuotaCharge | undefined } = {}): Promise<WriteOutcome> {
  const { lock, quota } = guards;
  const args = [lock?.token ?? '', quota?.key ?? '', quota?.bytes ?? 0, quota?.maxBytes ?? 0, quota?.windowSeconds ?? 0, ...commands.flatMap((command) => [command.length, ...command])];
  const keys = new Set([...(lock ? [lock.key] : []), ...(quota ? [quota.key] : []), ...commands.flatMap(keysOf)]);
  const [outcome, ...replies] = await redis.eval<(string | number)[], [string, ...unknown[]]>(WRITE_SCRIPT, [...keys], args);
  if (outcome === 'written') return { written: true, replies };
  return outcome === 'lock' ? { written: false, refused: 'lock' } : { written: false, refused: 'quota', ttlMs: replies[0] as number };
}

/** Thrown by a fenced write the lock no longer allowed: nothing of it was written. */
export class AppendLockLost extends Error {
  constructor() {
    super('the append lock is held by another append, or expired');
  }
}

/** Characters of ids per Redis round trip when checking or recording them (under the 10 MB request limit). */
const ID_BATCH_CHARS = 4 * 1024 * 1024;
/**
 * The values the hash KEYS[1] holds for the ids packed in ARGV[1] (`id,` over and over; ids have
 * no commas), as {position, value, …}: one argument to parse instead of one per id, and only the
 * ids found travel back. `HMGET` takes ≤ 4,000 at a time: Redis's Lua `unpack` gives at most ~8,000 values.
 */
const FIRST_LINES_SCRIPT = `
local found, ids, n, at = {}, {}, 0, 0
local function look()
  local lines = redis.call('HMGET', KEYS[1], unpack(ids, 1, n))
  for i = 1, n do
    if lines[i] then
      found[#found + 1] = at + i
      found[#found + 1] = lines[i]
    end
  end
  at, n = at + n, 0
end
for id in string.gmatch(ARGV[1], '([^,]+),') do
  n = n + 1
  ids[n] = id
  if n == 4000 then look() end
end
if n > 0 then look() end
return found
`;

/**
 * The ids an upload has seen in rows it has already settled, for duplicates: a single request
 * or a resumable piece settles its rows a window at a time (see `stage.ts`), so that memory holds
 * one window's ids, never a whole file's.
 */
export interface EarlierIds {
  /** Ids recorded so far (none: nothing to look up). */
  readonly count: number;
  /** True once a record was sent: the hash may exist even if that write failed or its answer was lost. */
  readonly touched: boolean;
  /** The line each of `ids` first appeared on in rows settled earlier, or `null`. */
  firstLines(ids: string[]): Promise<(number | null)[]>;
  /** Records a settled window's ids (id → line) for the windows and pieces that follow. */
  remember(lines: ReadonlyMap<string, number>): Promise<void>;
}

/**
 * An upload's earlier ids, in its Redis hash `upload:<id>:ids` (id → `line/tag`): one round trip
 * per ~4 MiB of ids. Each append (or single request) tags what it records with a random tag of
 * its own, because a resumable append that failed before saving its state may have recorded
 * windows the upload never kept: an id recorded from a line at or after `firstLine` (the first
 * line this append reads) counts only if this append recorded it. With `lock`, records only while
 * the append still holds it ({@link AppendLockLost} otherwise).
 */
export function earlierIds(redis: Redis, id: string, options: { expiresAt: number; remembered: number; firstLine: number; lock?: AppendLock }): EarlierIds {
  const { expiresAt, firstLine, lock } = options;
  const key = uploadKeys(id).ids;
  const tag = crypto.randomUUID().slice(0, 8);
  let count = options.remembered;
  let touched = false;
  return {
    get count() {
      return count;
    },
    get touched() {
      return touched;
    },
    async firstLines(list) {
      const lines: (number | null)[] = new Array<number | null>(list.length).fill(null);
      if (count === 0) return lines;
      for (let from = 0; from < list.length; ) {
        let to = from;
        let packed = '';
        while (to < list.length && packed.length < ID_BATCH_CHARS) packed += `${list[to++]},`;
        const found = await redis.eval<[string], (number | string)[]>(FIRST_LINES_SCRIPT, [key], [packed]);
        for (let i = 0; i < found.length; i += 2) {
          const [line, recordedBy] = String(found[i + 1]).split('/');
          if (Number(line) < firstLine || recordedBy === tag) lines[from + Number(found[i]) - 1] = Number(line);
        }
        from = to;
      }
      return lines;
    },
    async remember(lines) {
      // A window may write no chunk (once there are errors): recording its ids extends the lock too.
      const extend: RedisCommand[] = lock ? [['PEXPIRE', lock.key, lock.ms]] : [];
      const send = async (packed: string) => {
        touched = true;
        if (!(await runWrite(redis, [['HSETPACKED', key, packed], ['PEXPIREAT', key, expiresAt], ...extend], { lock })).written) throw new AppendLockLost();
      };
      // Ids have no commas (see idSchema): a batch travels as one packed argument.
      let packed = '';
      for (const [item, line] of lines) {
        packed += `${item},${line}/${tag},`;
        if (packed.length >= ID_BATCH_CHARS) await send(packed), (packed = '');
      }
      if (packed) await send(packed);
      count += lines.size;
    },
  };
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
 * quota, each write also counts its bytes in the same script; a write that takes the client over
 * its quota is refused (and everything this upload wrote is taken back). A resumable append's
 * writer writes only while it holds the append lock ({@link AppendLockLost} otherwise).
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
  /** The lock this writer's upload holds (a resumable append): each write checks it and extends it by `ms`. */
  readonly #lock: AppendLock | undefined;

  constructor(redis: Redis, id: string, expiresAt: Date, quota?: StagingQuota, resumed?: { written: number; counted: number; lock: AppendLock }) {
    this.#redis = redis;
    this.#id = id;
    this.#expiresAt = expiresAt.getTime();
    this.#quota = quota;
    this.#lock = resumed?.lock;
    if (resumed) {
      this.#written = resumed.written;
      this.#counted = resumed.counted;
      this.#trim = true;
    }
  }

  /** Bytes counted against the quota once `chunks` are written too (a resumable upload saves it with them). */
  countedWith(chunks: readonly ChunkText[]): number {
    if (!this.#quota) return this.#counted;
    return chunks.reduce((sum, chunk) => sum + chunk.length, this.#counted);
  }

  /** Chunks written so far. */
  get written(): number {
    return this.#written;
  }

  /**
   * Appends chunks (and, last, the status, then `also`) in one round trip.
   * @throws DomainError `quota-exceeded` when the chunks would take the client over its quota (nothing written).
   * @throws AppendLockLost when this writer's lock is another append's now (nothing written).
   */
  async write(chunks: readonly ChunkText[], meta?: UploadMeta, also: RedisCommand[] = []): Promise<void> {
    const commands: RedisCommand[] = [];
    if (this.#trim) commands.push(this.#written === 0 ? ['DEL', chunksKey(this.#id)] : ['LTRIM', chunksKey(this.#id), 0, this.#written - 1]);
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    if (chunks.length > 0) commands.push(['RPUSH', chunksKey(this.#id), ...chunks], ['PEXPIREAT', chunksKey(this.#id), this.#expiresAt]);
    if (meta) commands.push(['SET', metaKey(this.#id), JSON.stringify(meta), 'PXAT', this.#expiresAt]);
    if (this.#lock) commands.push(['PEXPIRE', this.#lock.key, this.#lock.ms]);
    const quota = this.#quota !== undefined && bytes > 0 ? { key: quotaKey(this.#quota.subject), bytes, ...this.#quota } : undefined;
    const outcome = await runWrite(this.#redis, [...commands, ...also], { lock: this.#lock, quota });
    if (outcome.written) {
      this.#trim = false;
      this.#written += chunks.length;
      if (quota) this.#counted += bytes;
    } else if (outcome.refused === 'lock') {
      throw new AppendLockLost();
    } else {
      throw new DomainError('quota-exceeded', `Staging this upload would exceed your quota of ${this.#quota!.maxBytes} staged bytes; nothing was staged.`, {
        quotaBytes: this.#quota!.maxBytes,
        retryAfterSeconds: Math.max(1, Math.ceil(outcome.ttlMs / 1000)),
      });
    }
  }

  /**
   * Takes back whatever this upload wrote and the bytes it counted, with `also` (nothing to do:
   * no round trip).
   * @throws AppendLockLost when this writer's lock is another append's now (nothing taken back).
   */
  async discard(also: RedisCommand[] = []): Promise<void> {
    if (this.#written === 0 && this.#counted === 0 && also.length === 0) return;
    const commands: RedisCommand[] = [['DEL', chunksKey(this.#id), metaKey(this.#id)]];
    if (this.#quota && this.#counted > 0) commands.push(['DECRBY', quotaKey(this.#quota.subject), this.#counted]);
    if (!(await runWrite(this.#redis, [...commands, ...also], { lock: this.#lock })).written) throw new AppendLockLost();
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
  const lock: AppendLock = { key: keys.append, token: crypto.randomUUID(), ms: 10_000 };
  const conflict = () => new DomainError('conflict', `A piece is being appended to upload "${id}"; delete it once that append has answered.`);
  if ((await redis.set(lock.key, lock.token, { nx: true, px: lock.ms })) !== 'OK') throw conflict();
  const deleted = await runWrite(redis, [['DEL', keys.meta], ['DEL', keys.chunks, keys.resume, keys.ids, keys.append]], { lock });
  if (!deleted.written) throw conflict();
  return (deleted.replies[0] as number) > 0;
}
