/**
 * An in-memory Redis for local runs and tests: the commands an app typically sends through
 * @upstash/redis, with Redis 7's reply shapes, error texts and expiry semantics.
 *
 * Keys, hash fields and set members are binary-safe: they are kept as latin1 strings (one char
 * per byte) so they can be Map keys, and turned back into the same bytes on the way out.
 */
import { RedisErrorReply, type RedisEngine, type RedisReply } from './engine.ts';
import { runScript, sha1hex } from './memory-scripting.ts';

const OK = Buffer.from('OK');
const PONG = Buffer.from('PONG');
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
/** Expired keys nobody reads again are dropped by this sweep (reads drop them lazily too). */
const SWEEP_INTERVAL_MS = 1_000;

const SYNTAX_ERROR = 'ERR syntax error';
const NOT_AN_INTEGER = 'ERR value is not an integer or out of range';
const WRONG_TYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
const OVERFLOW = 'ERR increment or decrement would overflow';
const EXEC_ABORT = 'EXECABORT Transaction discarded because of previous errors.';

interface DataOf {
  string: Buffer;
  hash: Map<string, Buffer>;
  list: Buffer[];
  set: Set<string>;
}
type ValueType = keyof DataOf;
type Value = { [T in ValueType]: { type: T; data: DataOf[T] } }[ValueType];
/** `expiresAt` is a Unix time in ms (null: no expiry); `seq` orders keys for SCAN cursors. */
interface EntryMeta {
  expiresAt: number | null;
  seq: number;
}
type EntryOf<T extends ValueType> = { type: T; data: DataOf[T] } & EntryMeta;
type Entry = { [T in ValueType]: EntryOf<T> }[ValueType];

/** Handlers throw this to answer with an error reply. */
function fail(message: string): never {
  throw new RedisErrorReply(message);
}

/** Builds an error from raw bytes the way Redis does: no CR/LF inside an error line. */
function errorFromBytes(...parts: (string | Buffer)[]): RedisErrorReply {
  const bytes = Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
  return new RedisErrorReply(bytes.toString('utf8').replace(/[\r\n]/g, ' '));
}

const arityError = (command: string): string => `ERR wrong number of arguments for '${command}' command`;
const invalidExpireError = (command: string): string => `ERR invalid expire time in '${command}' command`;

/** Parses a Redis integer exactly like `string2ll`: no sign '+', no leading zeros, 64-bit range. */
function parseInteger(bytes: Buffer): bigint | undefined {
  // Longer text cannot be in range; checking first keeps huge arguments cheap.
  if (bytes.length > 20) return undefined;
  const text = bytes.toString('latin1');
  if (!/^(0|-?[1-9][0-9]*)$/.test(text)) return undefined;
  const value = BigInt(text);
  return value >= INT64_MIN && value <= INT64_MAX ? value : undefined;
}

const toBytes = (key: string): Buffer => Buffer.from(key, 'latin1');
const integerBytes = (value: bigint | number): Buffer => Buffer.from(String(value));

/** The keyspace of one database, with lazy expiry on every access. */
class Keyspace {
  private readonly entries = new Map<string, Entry>();
  private lastSeq = 0;
  /** The script cache (EVAL and SCRIPT LOAD fill it, EVALSHA reads it): SHA-1 → source. FLUSHDB leaves it, as in Redis. */
  readonly scripts = new Map<string, Buffer>();

  /** The live entry for `key`, dropping it first if it has expired. */
  get(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && isExpired(entry, Date.now())) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The live entry if it holds `type`; WRONGTYPE if the key holds another type. */
  getTyped<T extends ValueType>(key: string, type: T): EntryOf<T> | undefined {
    const entry = this.get(key);
    if (entry && entry.type !== type) fail(WRONG_TYPE);
    return entry as EntryOf<T> | undefined;
  }

  /** Stores a value. An existing key keeps its place, so SCAN neither skips nor repeats it. */
  set(key: string, value: Value, expiresAt: number | null): void {
    const seq = this.get(key)?.seq ?? ++this.lastSeq;
    this.entries.set(key, { ...value, expiresAt, seq });
  }

  delete(key: string): boolean {
    return this.get(key) !== undefined && this.entries.delete(key);
  }

  /** Live entries in insertion order, which is also `seq` order. */
  *live(): Generator<[string, Entry]> {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (isExpired(entry, now)) this.entries.delete(key);
      else yield [key, entry];
    }
  }

  size(): number {
    this.sweep();
    return this.entries.size;
  }

  sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (isExpired(entry, now)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

function isExpired(entry: Entry, now: number): boolean {
  return entry.expiresAt !== null && entry.expiresAt <= now;
}

type ContainerType = 'hash' | 'list' | 'set';

/** The hash, list or set at `key`, created empty when missing (callers always add to it). */
function containerFor<T extends ContainerType>(db: Keyspace, key: string, type: T, create: () => DataOf[T]): DataOf[T] {
  const existing = db.getTyped(key, type);
  if (existing) return existing.data;
  const data = create();
  db.set(key, { type, data } as Value, null);
  return data;
}

/** Redis deletes a hash, list or set once its last element is gone. */
function dropIfEmpty(db: Keyspace, key: string, size: number): void {
  if (size === 0) db.delete(key);
}

/** A command's arguments (without its name) and the conversions handlers need. */
class Args {
  /** Lowercase command name, as Redis prints it in error messages. */
  readonly command: string;
  private readonly items: Buffer[];

  constructor(command: string, items: Buffer[]) {
    this.command = command;
    this.items = items;
  }

  get length(): number {
    return this.items.length;
  }

  bytes(index: number): Buffer {
    const item = this.items[index];
    if (!item) throw new Error(`'${this.command}' handler read a missing argument ${index}`);
    return item;
  }

  key(index: number): string {
    return this.bytes(index).toString('latin1');
  }

  /** An option keyword, lowercased for case-insensitive comparison. */
  option(index: number): string {
    return this.key(index).toLowerCase();
  }

  int(index: number): bigint {
    return parseInteger(this.bytes(index)) ?? fail(NOT_AN_INTEGER);
  }

  from(index: number): Buffer[] {
    return this.items.slice(index);
  }

  keysFrom(index: number): string[] {
    return this.from(index).map((item) => item.toString('latin1'));
  }
}

type Handler = (db: Keyspace, args: Args) => RedisReply;
/** `arity` counts the command name; negative means "at least", as in Redis's command table. */
interface CommandSpec {
  arity: number;
  run: Handler;
}

// ---------------------------------------------------------------------------------------------
// Strings

type ExpiryKind = 'ex' | 'px' | 'exat' | 'pxat';
const EXPIRY_KINDS: Record<ExpiryKind, { unit: bigint; absolute: boolean }> = {
  ex: { unit: 1000n, absolute: false },
  px: { unit: 1n, absolute: false },
  exat: { unit: 1000n, absolute: true },
  pxat: { unit: 1n, absolute: true },
};
const isExpiryKind = (option: string): option is ExpiryKind => Object.hasOwn(EXPIRY_KINDS, option);

/** Converts a SET/SETEX expiry argument to an absolute ms time (Redis's getExpireMillisecondsOrReply). */
function expiryTime(value: bigint, kind: ExpiryKind, command: string): number {
  const { unit, absolute } = EXPIRY_KINDS[kind];
  if (value <= 0n || value > INT64_MAX / unit) fail(invalidExpireError(command));
  const ms = value * unit + (absolute ? 0n : BigInt(Date.now()));
  if (ms > INT64_MAX) fail(invalidExpireError(command));
  return Number(ms);
}

interface SetOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  expiry: { kind: ExpiryKind; value: Buffer } | undefined;
}

/** Parses SET options with Redis's compatibility rules (repeating an option is fine, mixing is not). */
function parseSetOptions(args: Args): SetOptions {
  const options: SetOptions = { nx: false, xx: false, get: false, keepTtl: false, expiry: undefined };
  for (let i = 2; i < args.length; i++) {
    const option = args.option(i);
    const hasValue = i + 1 < args.length;
    if (option === 'nx' && !options.xx) options.nx = true;
    else if (option === 'xx' && !options.nx) options.xx = true;
    else if (option === 'get') options.get = true;
    else if (option === 'keepttl' && !options.expiry) options.keepTtl = true;
    else if (isExpiryKind(option) && !options.keepTtl && (options.expiry?.kind ?? option) === option && hasValue) {
      options.expiry = { kind: option, value: args.bytes(++i) };
    } else fail(SYNTAX_ERROR);
  }
  return options;
}

function set(db: Keyspace, args: Args): RedisReply {
  const key = args.key(0);
  const options = parseSetOptions(args);
  const expiry = options.expiry;
  const expiresAt = expiry ? expiryTime(parseInteger(expiry.value) ?? fail(NOT_AN_INTEGER), expiry.kind, 'set') : null;
  const previous = options.get ? (db.getTyped(key, 'string')?.data ?? null) : null;
  const existing = db.get(key);
  if ((options.nx && existing) || (options.xx && !existing)) return previous;
  db.set(key, { type: 'string', data: args.bytes(1) }, options.keepTtl ? (existing?.expiresAt ?? null) : expiresAt);
  return options.get ? previous : OK;
}

/** SETEX / PSETEX: key, expiry, value. */
function setWithExpiry(kind: ExpiryKind): Handler {
  return (db, args) => {
    const expiresAt = expiryTime(args.int(1), kind, args.command);
    db.set(args.key(0), { type: 'string', data: args.bytes(2) }, expiresAt);
    return OK;
  };
}

function setnx(db: Keyspace, args: Args): RedisReply {
  if (db.get(args.key(0))) return 0;
  db.set(args.key(0), { type: 'string', data: args.bytes(1) }, null);
  return 1;
}

function getdel(db: Keyspace, args: Args): RedisReply {
  const value = db.getTyped(args.key(0), 'string')?.data;
  if (value === undefined) return null;
  db.delete(args.key(0));
  return value;
}

function mset(db: Keyspace, args: Args): RedisReply {
  if (args.length % 2 !== 0) fail(arityError(args.command));
  for (let i = 0; i < args.length; i += 2) db.set(args.key(i), { type: 'string', data: args.bytes(i + 1) }, null);
  return OK;
}

/** INCR/DECR family; the key keeps its TTL, as in Redis. */
function incrementBy(db: Keyspace, key: string, delta: bigint): RedisReply {
  const entry = db.getTyped(key, 'string');
  const current = entry ? (parseInteger(entry.data) ?? fail(NOT_AN_INTEGER)) : 0n;
  const next = checkedAdd(current, delta);
  db.set(key, { type: 'string', data: integerBytes(next) }, entry?.expiresAt ?? null);
  return Number(next);
}

function checkedAdd(current: bigint, delta: bigint): bigint {
  const next = current + delta;
  if (next > INT64_MAX || next < INT64_MIN) fail(OVERFLOW);
  return next;
}

function decrby(db: Keyspace, args: Args): RedisReply {
  const delta = args.int(1);
  if (delta === INT64_MIN) fail('ERR decrement would overflow');
  return incrementBy(db, args.key(0), -delta);
}

function append(db: Keyspace, args: Args): RedisReply {
  const entry = db.getTyped(args.key(0), 'string');
  const data = entry ? Buffer.concat([entry.data, args.bytes(1)]) : args.bytes(1);
  db.set(args.key(0), { type: 'string', data }, entry?.expiresAt ?? null);
  return data.length;
}

// ---------------------------------------------------------------------------------------------
// Keys and expiry

/** EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with NX/XX/GT/LT (Redis's expireGenericCommand). */
function expireCommand(unit: bigint, absolute: boolean): Handler {
  return (db, args) => {
    const flags = parseExpireFlags(args);
    const when = args.int(1);
    const base = absolute ? 0n : BigInt(Date.now());
    if (when > INT64_MAX / unit || when < INT64_MIN / unit || when * unit > INT64_MAX - base) {
      fail(invalidExpireError(args.command));
    }
    const expiresAt = when * unit + base;
    const key = args.key(0);
    const entry = db.get(key);
    if (!entry) return 0;
    const current = entry.expiresAt === null ? null : BigInt(entry.expiresAt);
    if (flags.has('nx') && current !== null) return 0;
    if (flags.has('xx') && current === null) return 0;
    if (flags.has('gt') && (current === null || expiresAt <= current)) return 0;
    if (flags.has('lt') && current !== null && expiresAt >= current) return 0;
    if (expiresAt <= BigInt(Date.now())) db.delete(key);
    else entry.expiresAt = Number(expiresAt);
    return 1;
  };
}

function parseExpireFlags(args: Args): Set<string> {
  const flags = new Set<string>();
  for (let i = 2; i < args.length; i++) {
    const flag = args.option(i);
    if (flag !== 'nx' && flag !== 'xx' && flag !== 'gt' && flag !== 'lt') {
      throw errorFromBytes('ERR Unsupported option ', args.bytes(i));
    }
    flags.add(flag);
  }
  if (flags.has('nx') && flags.size > 1) fail('ERR NX and XX, GT or LT options at the same time are not compatible');
  if (flags.has('gt') && flags.has('lt')) fail('ERR GT and LT options at the same time are not compatible');
  return flags;
}

/** TTL (seconds, rounded like Redis) or PTTL: -2 missing key, -1 no expiry. */
function ttlCommand(inSeconds: boolean): Handler {
  return (db, args) => {
    const entry = db.get(args.key(0));
    if (!entry) return -2;
    if (entry.expiresAt === null) return -1;
    const ms = Math.max(0, entry.expiresAt - Date.now());
    return inSeconds ? Math.floor((ms + 500) / 1000) : ms;
  };
}

function persist(db: Keyspace, args: Args): RedisReply {
  const entry = db.get(args.key(0));
  if (!entry || entry.expiresAt === null) return 0;
  entry.expiresAt = null;
  return 1;
}

function scan(db: Keyspace, args: Args): RedisReply {
  const cursorText = args.key(0);
  if (!/^[0-9]+$/.test(cursorText)) fail('ERR invalid cursor');
  const cursor = Number(cursorText);
  let count = 10n;
  let pattern: string | undefined;
  /** `TYPE`: only keys holding this type (`string`, `list`, `hash`, `set`; any other name matches nothing). */
  let type: string | undefined;
  for (let i = 1; i < args.length; i += 2) {
    const option = args.option(i);
    if (i + 1 >= args.length) fail(SYNTAX_ERROR);
    if (option === 'count') {
      count = args.int(i + 1);
      if (count < 1n) fail(SYNTAX_ERROR);
    } else if (option === 'match') pattern = args.key(i + 1);
    else if (option === 'type') type = args.option(i + 1);
    else fail(SYNTAX_ERROR);
  }
  const keys: Buffer[] = [];
  let examined = 0n;
  for (const [key, entry] of db.live()) {
    if (entry.seq <= cursor) continue;
    if (examined === count) return [integerBytes(entry.seq - 1), keys];
    examined += 1n;
    if ((pattern === undefined || globMatch(pattern, key)) && (type === undefined || entry.type === type)) keys.push(toBytes(key));
  }
  return [Buffer.from('0'), keys];
}

function keys(db: Keyspace, args: Args): RedisReply {
  const pattern = args.key(0);
  return [...db.live()].filter(([key]) => globMatch(pattern, key)).map(([key]) => toBytes(key));
}

/** FLUSHDB / FLUSHALL [ASYNC|SYNC]; there is a single database here. */
function flush(db: Keyspace, args: Args): RedisReply {
  const mode = args.length === 1 ? args.option(0) : undefined;
  if (args.length > 1 || (mode !== undefined && mode !== 'sync' && mode !== 'async')) fail(SYNTAX_ERROR);
  db.clear();
  return OK;
}

function time(): RedisReply {
  const micros = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
  return [integerBytes(micros / 1_000_000n), integerBytes(micros % 1_000_000n)];
}

// ---------------------------------------------------------------------------------------------
// Scripting (the Lua side is in memory-scripting.ts)

/** EVAL script numkeys [key …] [arg …]; the script is cached for EVALSHA, as Redis does. */
function evalCommand(db: Keyspace, args: Args): RedisReply {
  const source = args.bytes(0);
  db.scripts.set(sha1hex(source), source);
  return runCached(db, source, args);
}

/** EVALSHA sha1 numkeys [key …] [arg …]. */
function evalsha(db: Keyspace, args: Args): RedisReply {
  const source = db.scripts.get(args.key(0).toLowerCase());
  return source ? runCached(db, source, args) : fail('NOSCRIPT No matching script. Please use EVAL.');
}

function runCached(db: Keyspace, source: Buffer, args: Args): RedisReply {
  const count = args.int(1);
  if (count < 0n) fail("ERR Number of keys can't be negative");
  if (count > BigInt(args.length - 2)) fail("ERR Number of keys can't be greater than number of args");
  const rest = args.from(2);
  return runScript(source, rest.slice(0, Number(count)), rest.slice(Number(count)), (commandArgs) => {
    const reply = execute(db, commandArgs);
    return { reply, status: reply === OK || reply === PONG || commandArgs[0]!.toString('latin1').toLowerCase() === 'type' };
  });
}

/** SCRIPT LOAD | EXISTS | FLUSH (KILL is refused before it gets here, see engine.ts). */
function script(db: Keyspace, args: Args): RedisReply {
  const sub = args.option(0);
  if (sub === 'load' && args.length === 2) {
    const source = args.bytes(1);
    const sha = sha1hex(source);
    db.scripts.set(sha, source);
    return Buffer.from(sha);
  }
  if (sub === 'exists' && args.length >= 2) return args.keysFrom(1).map((sha) => (db.scripts.has(sha.toLowerCase()) ? 1 : 0));
  if (sub === 'flush' && args.length <= 2) {
    db.scripts.clear();
    return OK;
  }
  return fail(`ERR unknown subcommand or wrong number of arguments for '${args.key(0)}'. Try SCRIPT HELP.`);
}

// ---------------------------------------------------------------------------------------------
// Hashes

const hashFor = (db: Keyspace, key: string): Map<string, Buffer> => containerFor(db, key, 'hash', () => new Map());

function hset(db: Keyspace, args: Args): RedisReply {
  if (args.length % 2 === 0) fail(arityError(args.command));
  const hash = hashFor(db, args.key(0));
  let added = 0;
  for (let i = 1; i < args.length; i += 2) {
    if (!hash.has(args.key(i))) added += 1;
    hash.set(args.key(i), args.bytes(i + 1));
  }
  return added;
}

function hsetnx(db: Keyspace, args: Args): RedisReply {
  const hash = hashFor(db, args.key(0));
  if (hash.has(args.key(1))) return 0;
  hash.set(args.key(1), args.bytes(2));
  return 1;
}

function hdel(db: Keyspace, args: Args): RedisReply {
  const hash = db.getTyped(args.key(0), 'hash')?.data;
  if (!hash) return 0;
  const removed = args.keysFrom(1).filter((field) => hash.delete(field)).length;
  dropIfEmpty(db, args.key(0), hash.size);
  return removed;
}

function hincrby(db: Keyspace, args: Args): RedisReply {
  const delta = args.int(2);
  const hash = hashFor(db, args.key(0));
  const stored = hash.get(args.key(1));
  const current = stored ? (parseInteger(stored) ?? fail('ERR hash value is not an integer')) : 0n;
  const next = checkedAdd(current, delta);
  hash.set(args.key(1), integerBytes(next));
  return Number(next);
}

const hashAt = (db: Keyspace, args: Args): Map<string, Buffer> => db.getTyped(args.key(0), 'hash')?.data ?? new Map();

// ---------------------------------------------------------------------------------------------
// Lists

const listFor = (db: Keyspace, key: string): Buffer[] => containerFor(db, key, 'list', () => []);
const listAt = (db: Keyspace, args: Args): Buffer[] => db.getTyped(args.key(0), 'list')?.data ?? [];

function push(atHead: boolean): Handler {
  return (db, args) => {
    const list = listFor(db, args.key(0));
    for (const element of args.from(1)) {
      if (atHead) list.unshift(element);
      else list.push(element);
    }
    return list.length;
  };
}

function lrange(db: Keyspace, args: Args): RedisReply {
  let start = args.int(1);
  let stop = args.int(2);
  const list = listAt(db, args);
  const length = BigInt(list.length);
  if (start < 0n) start += length;
  if (stop < 0n) stop += length;
  if (start < 0n) start = 0n;
  if (start > stop || start >= length) return [];
  return list.slice(Number(start), Number(stop < length ? stop : length - 1n) + 1);
}

function ltrim(db: Keyspace, args: Args): RedisReply {
  const list = db.getTyped(args.key(0), 'list')?.data;
  if (!list) return OK;
  const kept = lrange(db, args) as Buffer[];
  list.length = 0;
  for (const element of kept) list.push(element);
  dropIfEmpty(db, args.key(0), list.length);
  return OK;
}

function lindex(db: Keyspace, args: Args): RedisReply {
  const list = db.getTyped(args.key(0), 'list')?.data;
  if (!list) return null;
  let index = args.int(1);
  if (index < 0n) index += BigInt(list.length);
  return index >= 0n && index < BigInt(list.length) ? (list[Number(index)] ?? null) : null;
}

/** LPOP/RPOP key [count]: a bulk string without count, an array with it, nil for a missing key. */
function pop(atHead: boolean): Handler {
  return (db, args) => {
    if (args.length > 2) fail(arityError(args.command));
    const count = args.length === 2 ? positiveCount(args, 1) : undefined;
    const list = db.getTyped(args.key(0), 'list')?.data;
    if (!list) return null;
    const take = (): Buffer | undefined => (atHead ? list.shift() : list.pop());
    const reply = count === undefined ? (take() ?? null) : Array.from({ length: Math.min(count, list.length) }, () => take() ?? null);
    dropIfEmpty(db, args.key(0), list.length);
    return reply;
  };
}

/** Redis's getPositiveLongFromObjectOrReply: one message for "not a number" and "negative". */
function positiveCount(args: Args, index: number): number {
  const count = parseInteger(args.bytes(index));
  if (count === undefined || count < 0n) fail('ERR value is out of range, must be positive');
  return Number(count);
}

// ---------------------------------------------------------------------------------------------
// Sets

const setAt = (db: Keyspace, args: Args): Set<string> => db.getTyped(args.key(0), 'set')?.data ?? new Set();

function sadd(db: Keyspace, args: Args): RedisReply {
  const members = containerFor(db, args.key(0), 'set', () => new Set<string>());
  const before = members.size;
  for (const member of args.keysFrom(1)) members.add(member);
  return members.size - before;
}

function srem(db: Keyspace, args: Args): RedisReply {
  const members = db.getTyped(args.key(0), 'set')?.data;
  if (!members) return 0;
  const removed = args.keysFrom(1).filter((member) => members.delete(member)).length;
  dropIfEmpty(db, args.key(0), members.size);
  return removed;
}

// ---------------------------------------------------------------------------------------------
// Glob matching: a port of Redis's stringmatchlen (util.c), on latin1 strings (one char per byte).

/** Matches `text` against a Redis glob (`*`, `?`, `[abc]`, `[^a-z]`, `\` escapes). */
function globMatch(pattern: string, text: string): boolean {
  // KEYS and SCAN short-cut a lone "*", which is how it matches even the empty key.
  return pattern === '*' || matchFrom(pattern, 0, text, 0, { skipLongerMatches: false }, 0);
}

function matchFrom(p: string, pi: number, s: string, si: number, state: { skipLongerMatches: boolean }, nesting: number): boolean {
  // Same recursion cap as Redis, so hostile patterns cannot exhaust the stack.
  if (nesting > 1000) return false;
  while (pi < p.length && si < s.length) {
    switch (p[pi]) {
      case '*':
        while (p[pi + 1] === '*') pi++;
        if (pi + 1 === p.length) return true;
        for (; si < s.length; si++) {
          if (matchFrom(p, pi + 1, s, si, state, nesting + 1)) return true;
          // A later start cannot succeed where this one failed on the rest of the pattern.
          if (state.skipLongerMatches) return false;
        }
        state.skipLongerMatches = true;
        return false;
      case '?':
        si++;
        break;
      case '[': {
        const end = matchClass(p, pi + 1, s.charCodeAt(si));
        if (!end.matched) return false;
        pi = end.index;
        si++;
        break;
      }
      case '\\':
        if (pi + 1 < p.length) pi++;
        if (p[pi] !== s[si]) return false;
        si++;
        break;
      default:
        if (p[pi] !== s[si]) return false;
        si++;
    }
    pi++;
    if (si === s.length) {
      while (p[pi] === '*') pi++;
      break;
    }
  }
  return pi === p.length && si === s.length;
}

/** Matches one char against the class starting after `[`; returns where the class ends (its `]`). */
function matchClass(p: string, start: number, char: number): { matched: boolean; index: number } {
  let pi = start;
  const negate = p[pi] === '^';
  if (negate) pi++;
  let matched = false;
  for (;; pi++) {
    const remaining = p.length - pi;
    if (remaining >= 2 && p[pi] === '\\') {
      pi++;
      if (p.charCodeAt(pi) === char) matched = true;
    } else if (remaining > 0 && p[pi] === ']') {
      break;
    } else if (remaining === 0) {
      // Unterminated class: Redis treats the pattern as ending here.
      pi--;
      break;
    } else if (remaining >= 3 && p[pi + 1] === '-') {
      const low = Math.min(p.charCodeAt(pi), p.charCodeAt(pi + 2));
      const high = Math.max(p.charCodeAt(pi), p.charCodeAt(pi + 2));
      if (char >= low && char <= high) matched = true;
      pi += 2;
    } else if (p.charCodeAt(pi) === char) {
      matched = true;
    }
  }
  return { matched: matched !== negate, index: pi };
}

// ---------------------------------------------------------------------------------------------
// Command table and dispatch

const COMMANDS = new Map<string, CommandSpec>(
  Object.entries({
    ping: { arity: -1, run: (_db, args) => (args.length > 1 ? fail(arityError('ping')) : args.length === 1 ? args.bytes(0) : PONG) },
    echo: { arity: 2, run: (_db, args) => args.bytes(0) },
    get: { arity: 2, run: (db, args) => db.getTyped(args.key(0), 'string')?.data ?? null },
    set: { arity: -3, run: set },
    setex: { arity: 4, run: setWithExpiry('ex') },
    psetex: { arity: 4, run: setWithExpiry('px') },
    setnx: { arity: 3, run: setnx },
    getdel: { arity: 2, run: getdel },
    mget: {
      arity: -2,
      run: (db, args) =>
        args.keysFrom(0).map((key) => {
          const entry = db.get(key);
          return entry?.type === 'string' ? entry.data : null;
        }),
    },
    mset: { arity: -3, run: mset },
    del: { arity: -2, run: (db, args) => args.keysFrom(0).filter((key) => db.delete(key)).length },
    unlink: { arity: -2, run: (db, args) => args.keysFrom(0).filter((key) => db.delete(key)).length },
    exists: { arity: -2, run: (db, args) => args.keysFrom(0).filter((key) => db.get(key)).length },
    type: { arity: 2, run: (db, args) => Buffer.from(db.get(args.key(0))?.type ?? 'none') },
    expire: { arity: -3, run: expireCommand(1000n, false) },
    pexpire: { arity: -3, run: expireCommand(1n, false) },
    expireat: { arity: -3, run: expireCommand(1000n, true) },
    pexpireat: { arity: -3, run: expireCommand(1n, true) },
    ttl: { arity: 2, run: ttlCommand(true) },
    pttl: { arity: 2, run: ttlCommand(false) },
    persist: { arity: 2, run: persist },
    incr: { arity: 2, run: (db, args) => incrementBy(db, args.key(0), 1n) },
    incrby: { arity: 3, run: (db, args) => incrementBy(db, args.key(0), args.int(1)) },
    decr: { arity: 2, run: (db, args) => incrementBy(db, args.key(0), -1n) },
    decrby: { arity: 3, run: decrby },
    append: { arity: 3, run: append },
    strlen: { arity: 2, run: (db, args) => db.getTyped(args.key(0), 'string')?.data.length ?? 0 },
    hset: { arity: -4, run: hset },
    hsetnx: { arity: 4, run: hsetnx },
    hget: { arity: 3, run: (db, args) => hashAt(db, args).get(args.key(1)) ?? null },
    hmget: {
      arity: -3,
      run: (db, args) => {
        const hash = hashAt(db, args);
        return args.keysFrom(1).map((field) => hash.get(field) ?? null);
      },
    },
    hgetall: { arity: 2, run: (db, args) => [...hashAt(db, args)].flatMap(([field, value]) => [toBytes(field), value]) },
    hdel: { arity: -3, run: hdel },
    hexists: { arity: 3, run: (db, args) => (hashAt(db, args).has(args.key(1)) ? 1 : 0) },
    hlen: { arity: 2, run: (db, args) => hashAt(db, args).size },
    hkeys: { arity: 2, run: (db, args) => [...hashAt(db, args).keys()].map(toBytes) },
    hvals: { arity: 2, run: (db, args) => [...hashAt(db, args).values()] },
    hincrby: { arity: 4, run: hincrby },
    rpush: { arity: -3, run: push(false) },
    lpush: { arity: -3, run: push(true) },
    lrange: { arity: 4, run: lrange },
    ltrim: { arity: 4, run: ltrim },
    llen: { arity: 2, run: (db, args) => listAt(db, args).length },
    lpop: { arity: -2, run: pop(true) },
    rpop: { arity: -2, run: pop(false) },
    lindex: { arity: 3, run: lindex },
    sadd: { arity: -3, run: sadd },
    srem: { arity: -3, run: srem },
    smembers: { arity: 2, run: (db, args) => [...setAt(db, args)].map(toBytes) },
    sismember: { arity: 3, run: (db, args) => (setAt(db, args).has(args.key(1)) ? 1 : 0) },
    scard: { arity: 2, run: (db, args) => setAt(db, args).size },
    keys: { arity: 2, run: keys },
    scan: { arity: -2, run: scan },
    dbsize: { arity: 1, run: (db) => db.size() },
    flushdb: { arity: -1, run: flush },
    flushall: { arity: -1, run: flush },
    time: { arity: 1, run: time },
    eval: { arity: -3, run: evalCommand },
    evalsha: { arity: -3, run: evalsha },
    script: { arity: -2, run: script },
  } satisfies Record<string, CommandSpec>),
);

/** Finds the command and checks its arity: the checks Redis makes before queueing in MULTI. */
function resolveCommand(args: Buffer[]): CommandSpec | RedisErrorReply {
  const [name = Buffer.alloc(0), ...rest] = args;
  const lowerName = name.toString('latin1').toLowerCase();
  const spec = COMMANDS.get(lowerName);
  if (!spec) return unknownCommandError(name, rest);
  const arityOk = spec.arity > 0 ? args.length === spec.arity : args.length >= -spec.arity;
  return arityOk ? spec : new RedisErrorReply(arityError(lowerName));
}

/** Redis's text: the name, then quoted arguments until 128 bytes of them were printed. */
function unknownCommandError(name: Buffer, rest: Buffer[]): RedisErrorReply {
  let printed = Buffer.alloc(0);
  for (const arg of rest) {
    if (printed.length >= 128) break;
    printed = Buffer.concat([printed, Buffer.from("'"), arg.subarray(0, 128 - printed.length), Buffer.from("' ")]);
  }
  return errorFromBytes("ERR unknown command '", name.subarray(0, 128), "', with args beginning with: ", printed);
}

function execute(db: Keyspace, args: Buffer[]): RedisReply {
  const spec = resolveCommand(args);
  if (spec instanceof RedisErrorReply) return spec;
  const name = (args[0] ?? Buffer.alloc(0)).toString('latin1').toLowerCase();
  try {
    return spec.run(db, new Args(name, args.slice(1)));
  } catch (error) {
    if (error instanceof RedisErrorReply) return error;
    throw error;
  }
}

/**
 * Creates an empty in-memory Redis (one database). Expired keys vanish on access and in a
 * background sweep; call `close()` to stop that timer.
 */
export function createMemoryEngine(): RedisEngine {
  const db = new Keyspace();
  const sweeper = setInterval(() => db.sweep(), SWEEP_INTERVAL_MS);
  // The sweep alone must not keep a process alive.
  sweeper.unref();
  let closed = false;
  const ensureOpen = (): void => {
    if (closed) throw new Error('the in-memory Redis engine is closed');
  };
  return {
    async command(args) {
      ensureOpen();
      return execute(db, args);
    },
    async transaction(commands) {
      ensureOpen();
      // Like Redis, an unknown command or a wrong arity discards the whole transaction up front.
      if (commands.some((args) => resolveCommand(args) instanceof RedisErrorReply)) return new RedisErrorReply(EXEC_ABORT);
      return commands.map((args) => execute(db, args));
    },
    async close() {
      closed = true;
      clearInterval(sweeper);
      db.clear();
    },
  };
}
