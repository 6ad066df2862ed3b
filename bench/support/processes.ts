/**
 * Starts parts of the local stack in their own processes, as `npm run dev` does, so a
 * benchmark's client never shares an event loop with the servers it measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface StandinProcess {
  engines: string;
  bindings: Record<string, string>;
  stop(): Promise<void>;
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || !child.pid) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      resolve();
    }
  });
}

/** Runs `node local/standins.ts` with `env` (DATABASE_URL / REDIS_URL pick the real servers). */
export async function startStandinProcess(env: Record<string, string>): Promise<StandinProcess> {
  const child = spawn(process.execPath, ['local/standins.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const firstLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`stand-ins exited with ${code}`)));
  });
  const { engines, ...bindings } = JSON.parse(firstLine) as Record<string, string>;
  return { engines: engines!, bindings, stop: () => stopProcess(child) };
}

/** BENCH_PORT: the first port the servers a benchmark starts may use (each takes the next one free); unset: any free one. */
let nextBenchPort = process.env.BENCH_PORT ? Number(process.env.BENCH_PORT) : undefined;

function listensOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/** A free TCP port on 127.0.0.1 for a server: from BENCH_PORT up when it is set. */
export async function freePort(): Promise<number> {
  if (nextBenchPort === undefined) return (await listensOn(0))!;
  for (const last = nextBenchPort + 9; nextBenchPort < last; ) {
    const port = await listensOn(nextBenchPort++);
    if (port !== undefined) return port;
  }
  throw new Error('no free port among the 9 from BENCH_PORT');
}

export interface DevServer {
  /** e.g. `http://127.0.0.1:40123` */
  url: string;
  /** The `node local/dev.ts` process; wrangler and workerd run below it. */
  pid: number;
  /** The bootstrap admin key the server was started with (benchmarks send it: it has no rate limit). */
  adminKey: string;
  stop(): Promise<void>;
}

/**
 * Runs `node local/dev.ts` (stand-ins + `wrangler dev`) on a free port (or `env.PORT`) with `env`
 * (DATABASE_URL / REDIS_URL pick the real servers); resolves once `GET /health` answers 200.
 * BENCH_VERBOSE=1 shows wrangler's output.
 */
export async function startDevServer(env: Record<string, string>): Promise<DevServer> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const adminKey = env.ADMIN_API_KEY ?? `bench-admin-${randomBytes(24).toString('hex')}`;
  const child = spawn(process.execPath, ['local/dev.ts'], {
    cwd: ROOT,
    env: { ...process.env, NEON_HTTP_PORT: '0', UPSTASH_PORT: '0', ...env, ADMIN_API_KEY: adminKey, PORT: String(port) },
    stdio: ['ignore', process.env.BENCH_VERBOSE ? 'inherit' : 'ignore', 'inherit'],
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  const server = { url, pid: child.pid!, adminKey, stop: () => stopProcess(child) };
  for (const deadline = Date.now() + 120_000; ; ) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) return server;
    if (child.exitCode !== null || Date.now() > deadline) {
      await server.stop();
      throw new Error('wrangler dev did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The header that authenticates a benchmark's requests to `server`. */
export function authorization(server: DevServer): { Authorization: string } {
  return { Authorization: `Bearer ${server.adminKey}` };
}

/** The compatibility date of wrangler.toml, so the bare Worker runs on the same workerd behaviour. */
const COMPATIBILITY_DATE = '2026-08-01';

/**
 * Runs bench/bare-worker.ts (a Hono Worker answering a constant) under `npx wrangler dev` on a
 * free port, with a minimal config generated into a temporary folder (its `.wrangler` state
 * goes there too); resolves once it answers. The floor the API's cached reads are held to.
 */
export async function startBareWorker(options: { assets?: boolean } = {}): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bare-worker-'));
  const config = join(dir, 'wrangler.toml');
  writeFileSync(
    config,
    [
      'name = "bench-bare-worker"',
      `main = ${JSON.stringify(join(ROOT, 'bench/bare-worker.ts'))}`,
      `compatibility_date = "${COMPATIBILITY_DATE}"`,
      'compatibility_flags = ["nodejs_compat"]',
      'send_metrics = false',
      // `assets`: wrangler.toml's [assets] block, so the floor pays what the API's setup costs.
      ...(options.assets
        ? ['[assets]', `directory = ${JSON.stringify(join(ROOT, 'assets'))}`, 'binding = "ASSETS"', 'run_worker_first = ["/*", "!/docs/*"]']
        : []),
      '',
    ].join('\n'),
  );
  const child = spawn('npx', ['wrangler', 'dev', '--config', config, '--port', String(port), '--ip', '127.0.0.1', '--persist-to', join(dir, 'state')], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    stdio: ['ignore', process.env.BENCH_VERBOSE ? 'inherit' : 'ignore', 'inherit'],
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  for (const deadline = Date.now() + 120_000; ; ) {
    if (await fetch(`${url}/`).then((r) => r.ok, () => false)) return { url, pid: child.pid!, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error('wrangler dev of the bare worker did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
