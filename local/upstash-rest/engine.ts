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

/**
 * Administrative commands Upstash does not let a database token run: they would read or change
 * the server (its files, configuration, replication, other clients), not the data.
 */
const ADMIN_COMMANDS = new Set([
  'acl', 'bgrewriteaof', 'bgsave', 'cluster', 'config', 'debug', 'failover', 'lastsave', 'migrate', 'module', 'monitor',
  'psync', 'replicaof', 'save', 'shutdown', 'slaveof', 'swapdb', 'sync',
]);
/** Subcommands refused the same way (`CLIENT KILL`, `SCRIPT KILL`…); the rest of `CLIENT` and `SCRIPT` stays usable. */
const ADMIN_SUBCOMMANDS: Record<string, Set<string>> = {
  client: new Set(['kill', 'pause', 'unpause', 'no-evict', 'no-touch', 'tracking']),
  script: new Set(['kill']),
  function: new Set(['kill']),
};

/** Upstash's answer to a command the token may not run (Redis's ACL wording). */
export function refuseAdminCommand(args: Buffer[]): RedisErrorReply | undefined {
  const name = args[0]?.toString('latin1').toLowerCase() ?? '';
  const sub = args[1]?.toString('latin1').toLowerCase() ?? '';
  if (!ADMIN_COMMANDS.has(name) && !ADMIN_SUBCOMMANDS[name]?.has(sub)) return undefined;
  const what = ADMIN_COMMANDS.has(name) ? name : `${name}|${sub}`;
  return new RedisErrorReply(`NOPERM this user has no permissions to run the '${what}' command`);
}
