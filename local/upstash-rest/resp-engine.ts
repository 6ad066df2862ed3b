/**
 * A minimal RESP2 client for a real Redis server, shaped as a {@link RedisEngine}.
 *
 * One socket serves every caller: commands are written in order and Redis answers in order, so
 * replies are matched FIFO. A batch (one command, or MULTI…EXEC) goes out in a single write so
 * nothing from another caller can land inside it.
 */
import { createConnection, type Socket } from 'node:net';
import { RedisErrorReply, type RedisEngine, type RedisReply } from './engine.ts';

const CRLF = Buffer.from('\r\n');
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Commands that would block the shared socket or change its state (transaction, database,
 * protocol, reply mode, pub/sub) and so break reply matching for every other caller.
 */
const SHARED_SOCKET_BREAKERS = new Set([
  'auth', 'hello', 'select', 'reset', 'quit', 'monitor', 'sync', 'psync',
  'multi', 'exec', 'discard', 'watch', 'unwatch',
  'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe',
  'blpop', 'brpop', 'brpoplpush', 'blmove', 'blmpop', 'bzpopmin', 'bzpopmax', 'bzmpop', 'wait', 'waitaof',
]);

interface RedisAddress {
  host: string;
  port: number;
  db: number;
  username: string;
  password: string;
}

/**
 * Connects to a real Redis server (`redis://[[user]:password@]host[:port][/db]`), selecting the
 * database and authenticating on every (re)connection. Resolves once the server answered PING,
 * so a wrong address fails at start-up; later connection losses reject the affected commands and
 * the next command reconnects.
 */
export async function connectRedis(url: string): Promise<RedisEngine> {
  const engine = new RespEngine(parseRedisUrl(url));
  const pong = await engine.command([Buffer.from('PING')]);
  if (pong instanceof RedisErrorReply) {
    await engine.close();
    throw new Error(`Redis at ${url} answered PING with an error: ${pong.message}`);
  }
  return engine;
}

function parseRedisUrl(url: string): RedisAddress {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:') throw new Error(`unsupported Redis URL scheme ${parsed.protocol} (only redis://)`);
  const dbText = parsed.pathname.replace(/^\//, '') || '0';
  if (!/^\d+$/.test(dbText)) throw new Error(`invalid database number in Redis URL: ${dbText}`);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    db: Number(dbText),
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
}

class RespEngine implements RedisEngine {
  private readonly address: RedisAddress;
  private connection: RespConnection | undefined;
  private closed = false;

  constructor(address: RedisAddress) {
    this.address = address;
  }

  async command(args: Buffer[]): Promise<RedisReply> {
    const refused = refuseSharedSocketBreaker(args);
    if (refused) return refused;
    const [reply] = await this.connect().send([args]);
    return reply ?? null;
  }

  async transaction(commands: Buffer[][]): Promise<RedisReply[] | RedisErrorReply> {
    for (const args of commands) {
      const refused = refuseSharedSocketBreaker(args);
      if (refused) return refused;
    }
    const replies = await this.connect().send([[Buffer.from('MULTI')], ...commands, [Buffer.from('EXEC')]]);
    const exec = replies.at(-1) ?? null;
    if (exec instanceof RedisErrorReply || Array.isArray(exec)) return exec;
    // A nil EXEC only happens after WATCH, which is refused above.
    return new RedisErrorReply('EXECABORT Transaction discarded');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connection?.close();
  }

  /** Returns the live connection, opening a new one if needed. */
  private connect(): RespConnection {
    if (this.closed) throw new Error('the Redis engine is closed');
    if (!this.connection || this.connection.failed) this.connection = new RespConnection(this.address);
    return this.connection;
  }
}

/** Returns an error reply for commands that would break the shared socket, else undefined. */
function refuseSharedSocketBreaker(args: Buffer[]): RedisErrorReply | undefined {
  const name = args[0]?.toString('latin1').toLowerCase() ?? '';
  const isClientReply = name === 'client' && args[1]?.toString('latin1').toLowerCase() === 'reply';
  if (!SHARED_SOCKET_BREAKERS.has(name) && !isClientReply) return undefined;
  return new RedisErrorReply(
    `ERR '${name}' is not supported by the local Upstash REST stand-in (it would block or change the state of its shared Redis connection)`,
  );
}

interface PendingBatch {
  readonly expected: number;
  readonly replies: RedisReply[];
  resolve(replies: RedisReply[]): void;
  reject(error: Error): void;
}

/** One socket, a FIFO of batches waiting for replies, and the RESP2 reader feeding it. */
class RespConnection {
  failed = false;
  private readonly socket: Socket;
  private readonly pending: PendingBatch[] = [];
  private readonly reader = new RespReader();
  private readonly label: string;
  /** Set once the server has answered (after AUTH/SELECT); until then a failure means "unable to connect". */
  private ready = false;

  constructor(address: RedisAddress) {
    this.label = `${address.host}:${address.port}`;
    this.socket = createConnection({ host: address.host, port: address.port });
    this.socket.setNoDelay(true);
    this.socket.setTimeout(CONNECT_TIMEOUT_MS);
    this.socket.on('connect', () => {
      // Long-running commands are legitimate once connected.
      this.socket.setTimeout(0);
    });
    this.socket.on('timeout', () => this.socket.destroy(new Error(`no connection after ${CONNECT_TIMEOUT_MS} ms`)));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('connection closed')));
    this.startHandshake(address);
  }

  /**
   * Queues AUTH and SELECT ahead of any command. The check runs synchronously when their replies
   * arrive, so no later command can run unauthenticated or on the wrong database.
   */
  private startHandshake({ username, password, db }: RedisAddress): void {
    const handshake: Buffer[][] = [];
    if (password) handshake.push(['AUTH', ...(username ? [username] : []), password].map((s) => Buffer.from(s)));
    if (db !== 0) handshake.push([Buffer.from('SELECT'), Buffer.from(String(db))]);
    if (handshake.length === 0) return;
    const check = (replies: RedisReply[]): void => {
      const error = replies.find((reply) => reply instanceof RedisErrorReply);
      if (error) this.fail(new Error(`AUTH/SELECT failed: ${error.message}`));
    };
    this.pending.push({ expected: handshake.length, replies: [], resolve: check, reject: () => {} });
    this.socket.write(Buffer.concat(handshake.flatMap(encodeCommand)));
  }

  /** Writes the commands in one write and resolves with their replies, in order. */
  send(commands: Buffer[][]): Promise<RedisReply[]> {
    if (this.failed) return Promise.reject(new Error(`the connection to Redis at ${this.label} is closed`));
    return new Promise((resolve, reject) => {
      this.pending.push({ expected: commands.length, replies: [], resolve, reject });
      this.socket.write(Buffer.concat(commands.flatMap(encodeCommand)));
    });
  }

  /** Marks the connection dead, rejects everything waiting and drops the socket. */
  fail(cause: Error): void {
    if (this.failed) return;
    this.failed = true;
    const error = this.ready
      ? new Error(`Lost the connection to the Redis server at ${this.label}: ${cause.message}`)
      : new Error(`Unable to connect to the Redis server at ${this.label}: ${cause.message}`);
    for (const batch of this.pending.splice(0)) batch.reject(error);
    this.socket.destroy();
  }

  /** Ends the socket; commands still waiting for a reply are rejected when it closes. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.closed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  private onData(chunk: Buffer): void {
    let replies: RedisReply[];
    try {
      replies = this.reader.feed(chunk);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    for (const reply of replies) {
      if (this.failed) return;
      const batch = this.pending[0];
      if (!batch) {
        this.fail(new Error('received a reply nobody was waiting for'));
        return;
      }
      batch.replies.push(reply);
      if (batch.replies.length === batch.expected) {
        this.pending.shift();
        batch.resolve(batch.replies);
        this.ready = true;
      }
    }
  }
}

/** RESP2 request encoding: an array of bulk strings. */
function encodeCommand(args: Buffer[]): Buffer[] {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) parts.push(Buffer.from(`$${arg.length}\r\n`), arg, CRLF);
  return parts;
}

interface ArrayFrame {
  readonly items: RedisReply[];
  remaining: number;
}

/**
 * Incremental RESP2 reply reader. Arrays are tracked on an explicit stack so a partial reply is
 * never re-parsed, and chunks are only joined once enough bytes for the next value arrived, so a
 * large bulk string arriving in many chunks is copied once.
 */
class RespReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private needed = 1;
  private readonly stack: ArrayFrame[] = [];

  /** Consumes a chunk and returns the replies it completed. */
  feed(chunk: Buffer): RedisReply[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.needed) return [];
    const buffer = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    const replies: RedisReply[] = [];
    let offset = 0;
    for (;;) {
      const step = readValue(buffer, offset);
      if (step.kind === 'incomplete') {
        this.needed = step.needed - offset;
        break;
      }
      offset = step.next;
      const completed = step.kind === 'array' ? this.openArray(step.length) : this.complete(step.value);
      if (completed !== undefined) replies.push(completed);
    }
    const rest = buffer.subarray(offset);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return replies;
  }

  /** Starts an array; returns it when it is already complete (empty or nil). */
  private openArray(length: number): RedisReply | undefined {
    if (length < 0) return this.complete(null);
    if (length === 0) return this.complete([]);
    this.stack.push({ items: [], remaining: length });
    return undefined;
  }

  /** Adds a finished value to the enclosing arrays; returns it once a top-level reply is whole. */
  private complete(value: RedisReply): RedisReply | undefined {
    let current = value;
    for (;;) {
      const frame = this.stack.at(-1);
      if (!frame) return current;
      frame.items.push(current);
      frame.remaining -= 1;
      if (frame.remaining > 0) return undefined;
      this.stack.pop();
      current = frame.items;
    }
  }
}

type ReadStep =
  | { kind: 'incomplete'; needed: number }
  | { kind: 'value'; value: RedisReply; next: number }
  | { kind: 'array'; length: number; next: number };

/** Reads one RESP2 value (or an array header) at `offset`. */
function readValue(buffer: Buffer, offset: number): ReadStep {
  const lineEnd = buffer.indexOf(CRLF, offset);
  if (lineEnd < 0) return { kind: 'incomplete', needed: buffer.length + 1 };
  const line = buffer.subarray(offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (buffer[offset]) {
    case 0x2b: // '+'
      return { kind: 'value', value: line, next };
    case 0x2d: // '-'
      return { kind: 'value', value: new RedisErrorReply(line.toString('utf8')), next };
    case 0x3a: // ':'
      return { kind: 'value', value: Number(line.toString('latin1')), next };
    case 0x24: {
      // '$'
      const length = Number(line.toString('latin1'));
      if (length < 0) return { kind: 'value', value: null, next };
      const end = next + length;
      if (buffer.length < end + 2) return { kind: 'incomplete', needed: end + 2 };
      return { kind: 'value', value: buffer.subarray(next, end), next: end + 2 };
    }
    case 0x2a: // '*'
      return { kind: 'array', length: Number(line.toString('latin1')), next };
    default:
      throw new Error(`Redis protocol error: unexpected reply type byte ${buffer[offset]}`);
  }
}
