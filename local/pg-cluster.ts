/**
 * A private PostgreSQL primary with a streaming read replica, for tests and benchmarks of
 * read-replica behaviour: its own data folder (a fresh temp dir), its own free ports on
 * 127.0.0.1, trust auth, `fsync = off`. It never touches the machine's own server.
 *
 * The replica can replay WAL with a fixed delay (`recovery_min_apply_delay`), so replication
 * lag is deterministic, and can be killed (`stopReplica`) to play a dead replica.
 *
 * Needs the PostgreSQL server binaries (the newest /usr/lib/postgresql/<version>/bin). As root,
 * the server tools run as the `postgres` user (initdb refuses root).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ReplicatedClusterOptions {
  /** The replica applies each commit this long after the primary made it (0: as fast as it can). */
  applyDelayMs?: number;
}

export interface ReplicatedCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` on the primary. */
  primaryUrl: string;
  /** The same on the streaming replica (read-only, `pg_is_in_recovery()` true). */
  replicaUrl: string;
  /** Kills the replica (`pg_ctl -m immediate stop`); the primary keeps running. */
  stopReplica(): Promise<void>;
  /** Stops both servers and deletes their data. */
  close(): Promise<void>;
}

/** The newest installed PostgreSQL's `bin` folder. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((name) => /^\d+(\.\d+)?$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error(`No PostgreSQL server binaries under ${root}/<version>/bin`);
  return join(root, versions[0], 'bin');
}

/** A port nobody listens on right now (bind port 0, read it, let it go). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts a primary and a streaming replica of it; see the module comment. */
export async function startReplicatedCluster(options: ReplicatedClusterOptions = {}): Promise<ReplicatedCluster> {
  const bin = postgresBinDir();
  const asRoot = userInfo().uid === 0;
  // As root, run every server tool as `postgres`; otherwise as ourselves.
  const command = (tool: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  const tool = (name: string, args: string[]) => run(...command(name, args));
  const toolSync = (name: string, args: string[]) => execFileSync(...command(name, args), { stdio: 'ignore' });

  const dir = mkdtempSync(join(tmpdir(), 'pg-cluster-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const primaryDir = join(dir, 'primary');
  const replicaDir = join(dir, 'replica');
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const running = new Set<string>();

  const stopSync = (dataDir: string) => {
    if (!running.delete(dataDir)) return;
    try {
      toolSync('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already gone
    }
  };
  const cleanupSync = () => {
    stopSync(replicaDir);
    stopSync(primaryDir);
    rmSync(dir, { recursive: true, force: true });
  };
  // Best effort: never leave the servers running after this process.
  process.once('exit', cleanupSync);

  const start = async (dataDir: string, log: string) => {
    await tool('pg_ctl', ['-D', dataDir, '-l', join(dir, log), '-w', '-t', '30', 'start']);
    running.add(dataDir);
  };

  try {
    await tool('initdb', ['-D', primaryDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
    appendFileSync(
      join(primaryDir, 'postgresql.conf'),
      [
        '',
        `port = ${primaryPort}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        'wal_level = replica',
        'max_wal_senders = 5',
        'fsync = off',
        '',
      ].join('\n'),
    );
    appendFileSync(join(primaryDir, 'pg_hba.conf'), '\nhost replication all 127.0.0.1/32 trust\n');
    await start(primaryDir, 'primary.log');

    await tool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream', '-c', 'fast']);
    appendFileSync(
      join(replicaDir, 'postgresql.conf'),
      ['', `port = ${replicaPort}`, `recovery_min_apply_delay = '${Math.max(0, Math.round(options.applyDelayMs ?? 0))}ms'`, ''].join('\n'),
    );
    await start(replicaDir, 'replica.log');
  } catch (error) {
    cleanupSync();
    process.removeListener('exit', cleanupSync);
    throw error;
  }

  // A marker for whoever finds the folder: what it is and who made it.
  writeFileSync(join(dir, 'README'), `private primary (${primaryPort}) + replica (${replicaPort}) started by pid ${process.pid}\n`);
  return {
    primaryUrl: `postgres://postgres@127.0.0.1:${primaryPort}/postgres`,
    replicaUrl: `postgres://postgres@127.0.0.1:${replicaPort}/postgres`,
    async stopReplica() {
      if (!running.delete(replicaDir)) return;
      await tool('pg_ctl', ['-D', replicaDir, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    },
    async close() {
      process.removeListener('exit', cleanupSync);
      for (const dataDir of [replicaDir, primaryDir]) {
        if (running.delete(dataDir)) await tool('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
