/**
 * The small interface between the Upstash REST layer and whatever executes Redis commands:
 * a real Redis server over RESP2 ({@link ./resp-engine.ts}) or the in-memory engine ({@link ./memory-engine.ts}).
 */

/**
 * A RESP2-shaped reply. Simple strings and bulk strings are both Buffers (the REST layer does not
 * distinguish them), integers are numbers, nil bulk strings and nil arrays are `null`.
 */
export type RedisReply = null | number | Buffer | RedisReply[] | RedisErrorReply;

/** A Redis error reply such as `ERR syntax error` or `WRONGTYPE …`, passed to the client verbatim. */
export class RedisErrorReply {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/** Executes Redis commands. Pipelines are sequential {@link RedisEngine.command} calls. */
export interface RedisEngine {
  /** Runs one command; args are already bytes. Redis errors come back as RedisErrorReply, never thrown. */
  command(args: Buffer[]): Promise<RedisReply>;
  /**
   * Runs commands in order as one MULTI/EXEC. Returns per-command replies (runtime errors in place),
   * or a RedisErrorReply when the whole transaction is discarded (EXECABORT).
   */
  transaction(commands: Buffer[][]): Promise<RedisReply[] | RedisErrorReply>;
  /** Releases sockets and timers; later commands reject. */
  close(): Promise<void>;
}
