/**
 * Runs in Node before the Workers-pool tests: starts the stand-ins (embedded engines by
 * default; the real servers when TEST_DATABASE_URL / TEST_REDIS_URL are set), gives the run
 * a fresh database, migrates it, and hands the Worker bindings to the tests.
 *
 * With TEST_REPLICA_CLUSTER=1 it first starts a private PostgreSQL primary + streaming
 * replica (local/pg-cluster.ts) whose replica lags TEST_REPLICA_DELAY_MS (default 3000), and
 * serves the replica as DATABASE_REPLICA_URL. The embedded run gets one read-only PGlite
 * "replica" (no lag); the run on TEST_DATABASE_URL gets none.
 */
import type { TestProject } from 'vitest/node';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import { listen, readBody, sendJson } from '../local/http.ts';
import { migrate } from '../local/db-migrate.ts';
import { startReplicatedCluster, type ReplicatedCluster } from '../local/pg-cluster.ts';
import { createScratchDatabase } from '../local/scratch-database.ts';
import { startNeonHttp } from '../local/neon-http/index.ts';
import { startStandins } from '../local/standins.ts';
import { createMemoryEngine, startUpstashRest } from '../local/upstash-rest/index.ts';
import './provided-context.ts';

/** A server that accepts connections and never replies, to test timeouts. */
async function startBlackHole() {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Stands in front of the run's Neon stand-in (`neonUrl`) as the Worker's `NEON_FETCH_ENDPOINT`:
 * requests for a connection string whose host is `<answer>.broken-replica.test` get that canned
 * answer, as a replica that breaks in that way would give it; every other request is passed on.
 */
async function startBrokenReplicaEndpoint(neonUrl: string) {
  const answers: Record<string, { status: number; type: string; body: string }> = {
    // A proxy or load balancer in front of the replica answering with its own page.
    'not-json': { status: 200, type: 'text/html', body: '<html><body>upstream gone</body></html>' },
    'not-json-error': { status: 400, type: 'text/plain', body: 'bad request' },
    // JSON, but not one result per statement sent.
    'no-results': { status: 200, type: 'application/json', body: JSON.stringify({ results: [] }) },
    // Neon's error answers: a data exception or a syntax error in the request itself, a replay conflict, a table the replica does not have yet.
    'data-exception': { status: 400, type: 'application/json', body: JSON.stringify({ message: 'invalid input syntax for type integer: "x"', code: '22P02' }) },
    'replay-conflict': { status: 400, type: 'application/json', body: JSON.stringify({ message: 'canceling statement due to conflict with recovery', code: '40001' }) },
    'syntax-error': { status: 400, type: 'application/json', body: JSON.stringify({ message: 'syntax error at or near "SELEC"', code: '42601' }) },
    'schema-lag': { status: 400, type: 'application/json', body: JSON.stringify({ message: 'relation "species" does not exist', code: '42P01' }) },
  };
  return listen(async (req, res) => {
    const body = await readBody(req, 64 * 1024 * 1024);
    const target = String(req.headers['neon-connection-string'] ?? '');
    const broken = /^[a-z]+:\/\/[^@/]*@([a-z-]+)\.broken-replica\.test[/:?]/.exec(target)?.[1];
    const answer = broken === undefined ? undefined : answers[broken];
    if (answer) {
      res.writeHead(answer.status, { 'Content-Type': answer.type }).end(answer.body);
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name, value]) => typeof value === 'string' && !['host', 'content-length', 'connection'].includes(name))) as Record<string, string>;
    const passed = await fetch(neonUrl, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
    res.writeHead(passed.status, { 'Content-Type': passed.headers.get('Content-Type') ?? 'application/json' }).end(Buffer.from(await passed.arrayBuffer()));
  });
}

async function query<T>(url: string, text: string, values: unknown[] = []): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows[0] as T;
  } finally {
    await client.end();
  }
}

/** Waits until the replica has replayed everything the primary has written so far. */
async function waitForReplay(primaryUrl: string, replicaUrl: string, timeoutMs: number): Promise<void> {
  const { lsn } = await query<{ lsn: string }>(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { caught } = await query<{ caught: boolean | null }>(replicaUrl, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught', [lsn]);
    if (caught) return;
    if (Date.now() > deadline) throw new Error(`the replica did not replay ${lsn} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Loopback control endpoints for tests inside workerd: `POST /replica/stop` kills the replica. */
function startControlServer(cluster: ReplicatedCluster) {
  return listen(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'POST' && path === '/replica/stop') {
      await cluster.stopReplica();
      sendJson(res, 200, { stopped: 'replica' });
      return;
    }
    sendJson(res, 404, { error: `no ${req.method} ${path}` });
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The fault suite's own stand-ins: `node local/standins.ts` as a child process on the run's
 * scratch database and Redis, which test/faults.test.ts kills, freezes and restarts through a
 * loopback control server (`POST /standins/{freeze,thaw,kill,start}`, each answering the current
 * bindings). Only this process is signalled, never the servers behind it.
 */
async function startFaultStandins(databaseUrl: string, redisUrl: string | undefined) {
  const ports = { NEON_HTTP_PORT: String(await freePort()), UPSTASH_PORT: String(await freePort()) };
  let child: ChildProcess | undefined;
  let bindings: Record<string, string> = {};
  const start = async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...ports, DATABASE_URL: databaseUrl };
    delete env.DATABASE_REPLICA_URL;
    if (redisUrl) env.REDIS_URL = redisUrl;
    else delete env.REDIS_URL;
    const started = spawn(process.execPath, [fileURLToPath(new URL('../local/standins.ts', import.meta.url))], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    child = started;
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      started.stdout!.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      started.once('exit', (code) => reject(new Error(`the fault stand-ins exited (${code}) before starting`)));
    });
    const { engines: _engines, ...fresh } = JSON.parse(line) as Record<string, string>;
    bindings = fresh;
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  const control = await listen(async (req, res) => {
    const action = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/^\/standins\//, '');
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST only' });
    if (action === 'freeze') child?.kill('SIGSTOP');
    else if (action === 'thaw') child?.kill('SIGCONT');
    else if (action === 'kill') await kill();
    else if (action === 'start') await start();
    else if (action !== 'bindings') return sendJson(res, 404, { error: `no action ${action}` });
    sendJson(res, 200, bindings);
  });
  return {
    url: control.url,
    close: async () => {
      child?.kill('SIGCONT');
      await kill();
      await control.close();
    },
  };
}

export default async function setup(project: TestProject) {
  const cleanups: (() => Promise<unknown>)[] = [];
  const teardown = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    await start(project, cleanups);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}

async function start(project: TestProject, cleanups: (() => Promise<unknown>)[]): Promise<void> {
  const useCluster = process.env.TEST_REPLICA_CLUSTER === '1';
  const delayMs = Number(process.env.TEST_REPLICA_DELAY_MS ?? 3000);
  let cluster: ReplicatedCluster | undefined;
  if (useCluster) {
    const started = performance.now();
    cluster = await startReplicatedCluster({ applyDelayMs: delayMs });
    cleanups.push(cluster.close);
    console.log(`[test] private primary + streaming replica (apply delay ${delayMs} ms) up in ${Math.round(performance.now() - started)} ms`);
  }
  const serverUrl = cluster?.primaryUrl ?? process.env.TEST_DATABASE_URL;
  const scratch = serverUrl ? await createScratchDatabase(serverUrl, 'pokemon_test') : undefined;
  // The private cluster goes with its data; a scratch database on a shared server is dropped.
  if (scratch && !cluster) cleanups.push(scratch.drop);
  let replicaUrls: string[] | undefined;
  if (cluster && scratch) {
    const replica = new URL(cluster.replicaUrl);
    replica.pathname = new URL(scratch.url).pathname;
    replicaUrls = [replica.toString()];
  }
  const standins = await startStandins({
    postgresUrl: scratch?.url,
    replicaUrls,
    // Without a streaming replica, a read-only view of the primary: a write sent to a replica fails in every run.
    readOnlyReplicas: cluster ? undefined : 1,
    redisUrl: process.env.TEST_REDIS_URL,
  });
  cleanups.push(standins.close);
  await migrate({ databaseUrl: standins.bindings.DATABASE_URL, fetchEndpoint: standins.bindings.NEON_FETCH_ENDPOINT });
  if (cluster && scratch && replicaUrls) {
    const started = performance.now();
    // Poll the replica's own `postgres` database: the scratch one appears there only once replayed.
    await waitForReplay(scratch.url, cluster.replicaUrl, delayMs + 30_000);
    console.log(`[test] replica caught up with the migrated primary in ${Math.round(performance.now() - started)} ms`);
  }
  console.log(`[test] stand-ins on ${standins.engines}${scratch ? ` (database ${new URL(scratch.url).pathname.slice(1)})` : ''}`);
  // The run's bootstrap admin key: test helpers send it unless a test says otherwise.
  project.provide('bindings', { ...standins.bindings, ADMIN_API_KEY: `test-admin-${randomBytes(24).toString('hex')}` });
  project.provide('engines', standins.engines);
  project.provide('replicaDelayMs', cluster ? delayMs : 0);
  if (cluster) {
    const control = await startControlServer(cluster);
    cleanups.push(control.close);
    project.provide('controlUrl', control.url);
  }
  if (scratch && !cluster) {
    const faults = await startFaultStandins(scratch.url, process.env.TEST_REDIS_URL);
    cleanups.push(faults.close);
    project.provide('faultControlUrl', faults.url);
  }
  // A second pair of stand-ins, with a delay: only their timing is tested, so no database behind Neon's.
  const standinDelayMs = 150;
  const slowRedis = createMemoryEngine();
  const slowNeon = await startNeonHttp({ databases: [], delayMs: standinDelayMs });
  const slowUpstash = await startUpstashRest({ engine: slowRedis, token: randomBytes(16).toString('hex'), delayMs: standinDelayMs });
  cleanups.push(() => slowRedis.close(), slowNeon.close, slowUpstash.close);
  project.provide('delayedStandins', { delayMs: standinDelayMs, neonUrl: slowNeon.url, upstashUrl: slowUpstash.url });
  // A private Upstash stand-in that a test may kill (`POST <stopUrl>`): never the run's shared one.
  const privateEngine = createMemoryEngine();
  const privateToken = randomBytes(16).toString('hex');
  const privateUpstash = await startUpstashRest({ engine: privateEngine, token: privateToken });
  let privateStopped = false;
  const stopPrivate = async () => {
    if (privateStopped) return;
    privateStopped = true;
    await privateUpstash.close();
    await privateEngine.close();
  };
  const privateControl = await listen(async (req, res) => {
    if (req.method === 'POST' && req.url === '/stop') {
      await stopPrivate();
      sendJson(res, 200, { stopped: 'private upstash stand-in' });
      return;
    }
    sendJson(res, 404, { error: `no ${req.method} ${req.url}` });
  });
  cleanups.push(stopPrivate, privateControl.close);
  project.provide('privateRedis', { url: privateUpstash.url, token: privateToken, stopUrl: `${privateControl.url}/stop` });
  const brokenReplicas = await startBrokenReplicaEndpoint(standins.bindings.NEON_FETCH_ENDPOINT);
  cleanups.push(brokenReplicas.close);
  project.provide('brokenReplicaEndpoint', `${brokenReplicas.url}/sql`);
  const blackHole = await startBlackHole();
  cleanups.push(blackHole.close);
  project.provide('blackHoleUrl', blackHole.url);
}
