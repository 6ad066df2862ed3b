/**
 * `npm run bench:reads`: read throughput with the primary only (A) against primary + one
 * streaming replica (B), on the same machine in the same run, and how many reads the replica
 * served; B' is B with a client that writes now and then and sends the write's `X-Bookmark`
 * on the reads that follow it (read-your-writes), to show how many of those the replica can
 * still serve.
 *
 * Setup: a private primary + streaming replica (local/pg-cluster.ts, replay delay 0: no
 * artificial lag), migrated through the Neon stand-in (local/db-migrate.ts) and seeded with
 * TRAINERS × POKEMON_PER_TRAINER rows by SQL on the primary; then we wait until the replica
 * has replayed it all. Each round starts `npm run dev` (stand-ins + `wrangler dev`, on free
 * ports, in-memory Redis — these routes never touch it; the read cache off, so every read
 * reaches a database: the cache has its own part, bench/cache.ts) twice, one at a time: with
 * DATABASE_URL = the primary alone (A), and with DATABASE_REPLICA_URL = the replica too (B,
 * then B' on the same server). The order of A and B alternates between rounds.
 *
 * Load: a fixed, seeded mix of `GET /pokemon/:id`, `/trainers/:id`, `/trainers/:id/pokemon`,
 * `/pokemon?owner=…` on kept-alive loopback sockets, at each concurrency for BENCH_SECONDS;
 * each loop stops at the deadline or after MAX_REQUESTS_PER_CASE requests, whichever first.
 * In B' every 10th request of a loop is `PATCH /pokemon/:id` (its first one too), and the
 * loop's reads carry that PATCH's `X-Bookmark`.
 *
 * Who served a request is read from its `Server-Timing`: `replica;count=N` round trips to the
 * replica and `db;count=N` to the primary. Replica only → served by the replica; both → the
 * replica was tried and the primary answered (behind the bookmark, timed out, replay
 * conflict); primary only → primary.
 *
 * BENCH_SECONDS per case (default 5), BENCH_RUNS rounds (default 3; the summary gives
 * min / median / max), BENCH_REPLICA_DELAY_MS the replica's replay delay (default 0; e.g. 200
 * shows bookmarked reads going back to the primary), BENCH_VERBOSE=1 shows wrangler's output.
 * Each case also reports how many cores each part of the stack kept busy (from /proc).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import pg from 'pg';
import { migrate } from '../local/db-migrate.ts';
import { startReplicatedCluster, type ReplicatedCluster } from '../local/pg-cluster.ts';
import { processCpuSeconds, processTree, treeCpuSeconds } from './support/cpu.ts';
import { authorization, startDevServer, startStandinProcess, type DevServer } from './support/processes.ts';
import { seedTrainersAndPokemon } from './support/seed.ts';
import { median, percentile } from './support/stats.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const runs = Number(process.env.BENCH_RUNS ?? 3);
/** Replay delay of the replica: 0 for throughput; set it to see bookmarked reads fall back to the primary. */
const replicaDelayMs = Number(process.env.BENCH_REPLICA_DELAY_MS ?? 0);
const TRAINERS = 100;
const POKEMON_PER_TRAINER = 10;
const CONCURRENCY = [1, 8, 32];
/** The bound on each case besides its deadline. */
const MAX_REQUESTS_PER_CASE = 100_000;
/** In B', one request in this many is a write. */
const WRITE_EVERY = 10;
/** No single request may take longer than this (the case fails instead of hanging). */
const REQUEST_TIMEOUT_MS = 30_000;

type CaseName = 'A' | 'B' | "B'";
type Served = 'replica' | 'fallback' | 'primary';

interface Result {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  reads: number;
  /** Median latency of the PATCHes (B' only). */
  writeP50: number;
  /** Of the reads: served by the replica / tried there, answered by the primary / primary only. */
  served: Record<Served, number>;
  /** Cores each part of the stack kept busy on average (CPU seconds / wall seconds). */
  cores: Record<Part, number>;
}

const PARTS = ['workerd', 'standins', 'primary', 'replica', 'client'] as const;
type Part = (typeof PARTS)[number];
const PART_LABEL: Record<Part, string> = { workerd: 'wrangler+workerd', standins: 'stand-ins', primary: 'primary', replica: 'replica', client: 'client' };

/** The postmasters' pids, to count the CPU of each server and its backends. */
const postmasters = { primary: 0, replica: 0 };

/** CPU seconds used so far by each part of the stack that `server` runs on. */
function cpuNow(server: DevServer): Record<Part, number> {
  const tree = processTree();
  const client = process.cpuUsage();
  return {
    // `node local/dev.ts` runs the stand-ins in its own process; wrangler and workerd are below it.
    standins: processCpuSeconds(server.pid),
    workerd: treeCpuSeconds(tree.get(server.pid) ?? [], tree),
    primary: treeCpuSeconds([postmasters.primary], tree),
    replica: treeCpuSeconds([postmasters.replica], tree),
    client: (client.user + client.system) / 1e6,
  };
}

// ---------------------------------------------------------------- the request mix

/** mulberry32: a small seeded PRNG, so every run sends the same requests. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MIX_LENGTH = 10_007;
/** The read paths, a fixed sequence: each loop walks it from its own offset. */
const READ_MIX: string[] = (() => {
  const random = prng(20_240_101);
  const pick = (n: number) => Math.floor(random() * n);
  return Array.from({ length: MIX_LENGTH }, () => {
    const kind = random();
    if (kind < 0.3) return `/pokemon/p${pick(TRAINERS * POKEMON_PER_TRAINER)}`;
    if (kind < 0.55) return `/trainers/t${pick(TRAINERS)}`;
    if (kind < 0.8) return `/trainers/t${pick(TRAINERS)}/pokemon`;
    return `/pokemon?owner=t${pick(TRAINERS)}`;
  });
})();

// ---------------------------------------------------------------- the cluster

/** Waits until the replica has replayed everything the primary has written so far. */
async function waitForReplay(primary: pg.Client, replica: pg.Client): Promise<void> {
  const { rows } = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  for (const deadline = Date.now() + 30_000; ; ) {
    const { rows: caught } = await replica.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [rows[0]!.lsn]);
    if (caught[0]!.ok) return;
    if (Date.now() > deadline) throw new Error('the replica did not catch up within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function prepare(cluster: ReplicatedCluster): Promise<void> {
  // Migrations go over Neon's protocol, through a stand-in on the primary, as `npm run db:migrate` does.
  const standin = await startStandinProcess({ DATABASE_URL: cluster.primaryUrl });
  try {
    await migrate({ databaseUrl: standin.bindings.DATABASE_URL!, fetchEndpoint: standin.bindings.NEON_FETCH_ENDPOINT });
  } finally {
    await standin.stop();
  }
  const primary = new pg.Client({ connectionString: cluster.primaryUrl });
  const replica = new pg.Client({ connectionString: cluster.replicaUrl });
  await primary.connect();
  await replica.connect();
  try {
    await seedTrainersAndPokemon(primary, TRAINERS, POKEMON_PER_TRAINER);
    await primary.query('VACUUM ANALYZE');
    for (const [name, client] of [['primary', primary], ['replica', replica]] as const) {
      const { rows } = await client.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
      postmasters[name] = Number(readFileSync(`${rows[0]!.dir}/postmaster.pid`, 'utf8').split('\n')[0]);
    }
    await waitForReplay(primary, replica);
    const { rows } = await replica.query<{ n: string; recovering: boolean }>('SELECT count(*)::text AS n, pg_is_in_recovery() AS recovering FROM pokemon');
    if (!rows[0]!.recovering || Number(rows[0]!.n) !== TRAINERS * POKEMON_PER_TRAINER) throw new Error(`replica not ready: ${JSON.stringify(rows[0])}`);
  } finally {
    await primary.end();
    await replica.end();
  }
}

// ---------------------------------------------------------------- the client

interface Answer {
  status: number;
  db: number;
  replica: number;
  bookmark: string | undefined;
}

const COUNT = (name: string) => new RegExp(`(?:^|, )${name};count=(\\d+)`);
const DB_COUNT = COUNT('db');
const REPLICA_COUNT = COUNT('replica');

function send(baseUrl: string, agent: http.Agent, method: 'GET' | 'PATCH', path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${baseUrl}${path}`, { method, agent, headers, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      response.resume();
      response.on('end', () => {
        const timing = String(response.headers['server-timing'] ?? '');
        const db = DB_COUNT.exec(timing);
        const replica = REPLICA_COUNT.exec(timing);
        if (!db || !replica) return reject(new Error(`${method} ${path}: no db/replica counts in Server-Timing "${timing}"`));
        const bookmark = response.headers['x-bookmark'];
        resolve({ status: response.statusCode!, db: Number(db[1]), replica: Number(replica[1]), bookmark: typeof bookmark === 'string' ? bookmark : undefined });
      });
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${path}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}


/** `concurrency` loops over the read mix (with writes and bookmarks when `bookmarked`) for BENCH_SECONDS. */
async function load(server: DevServer, concurrency: number, bookmarked: boolean): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const writeLatencies: number[] = [];
  const served: Record<Served, number> = { replica: 0, fallback: 0, primary: 0 };
  let reads = 0;
  let sent = 0;
  const cpuBefore = cpuNow(server);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async (_, loop) => {
        let bookmark: string | undefined;
        for (let i = 0; performance.now() < deadline && sent < MAX_REQUESTS_PER_CASE; i++) {
          sent += 1;
          const position = (loop * Math.floor(MIX_LENGTH / concurrency) + i) % MIX_LENGTH;
          const write = bookmarked && i % WRITE_EVERY === 0;
          const start = performance.now();
          let answer: Answer;
          if (write) {
            const id = `p${(loop * 97 + i * 13) % (TRAINERS * POKEMON_PER_TRAINER)}`;
            const body = JSON.stringify({ level: 1 + ((loop + i) % 100) });
            answer = await send(server.url, agent, 'PATCH', `/pokemon/${id}`, { 'Content-Type': 'application/json', ...authorization(server) }, body);
            if (answer.status !== 200 || answer.db !== 1 || !answer.bookmark) throw new Error(`PATCH /pokemon/${id}: ${answer.status}, db ${answer.db}, bookmark ${answer.bookmark}`);
            bookmark = answer.bookmark;
          } else {
            const path = READ_MIX[position]!;
            answer = await send(server.url, agent, 'GET', path, { ...authorization(server), ...(bookmark ? { 'X-Bookmark': bookmark } : {}) });
            if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}`);
            reads += 1;
            served[answer.replica > 0 ? (answer.db > 0 ? 'fallback' : 'replica') : 'primary'] += 1;
          }
          latencies.push(performance.now() - start);
          if (write) writeLatencies.push(latencies.at(-1)!);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = cpuNow(server);
  const cores = Object.fromEntries(PARTS.map((part) => [part, (cpuAfter[part] - cpuBefore[part]) / elapsed])) as Record<Part, number>;
  latencies.sort((a, b) => a - b);
  writeLatencies.sort((a, b) => a - b);
  const writeP50 = percentile(writeLatencies, 50);
  return { requestsPerSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), requests: latencies.length, reads, writeP50, served, cores };
}

/** A few hundred requests so that wrangler has bundled, workerd is warm and the pools are open. */
async function warmUp(server: DevServer, bookmarked: boolean): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    await Promise.all(
      Array.from({ length: 8 }, async (_, loop) => {
        for (let i = 0; i < 40; i++) {
          const answer = await send(server.url, agent, 'GET', READ_MIX[(loop * 1_000 + i) % MIX_LENGTH]!, authorization(server));
          if (answer.status !== 200) throw new Error(`warm-up: ${answer.status}`);
        }
      }),
    );
    if (bookmarked) {
      const answer = await send(server.url, agent, 'GET', '/trainers/t0', authorization(server));
      if (answer.replica !== 1 || answer.db !== 0) throw new Error(`with a replica configured, GET /trainers/t0 went db ${answer.db}, replica ${answer.replica}`);
    }
  } finally {
    agent.destroy();
  }
}

// ---------------------------------------------------------------- output

const share = (r: Result, kind: Served) => (r.reads ? (100 * r.served[kind]) / r.reads : 0);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (n: number) => `${n.toFixed(n > 0 && n < 1 ? 1 : 0)}%`;

function spread(values: number[], show: (n: number) => string): string {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 1) return show(sorted[0]!);
  return `${show(sorted[0]!)} / **${show(median(sorted))}** / ${show(sorted.at(-1)!)}`;
}

const CASE_LABEL: Record<CaseName, string> = {
  A: 'A primary only',
  B: 'B primary + replica',
  "B'": "B' + writes, bookmarked reads",
};

type Round = Map<number, Record<CaseName, Result>>;

function roundTable(round: Round): string {
  const lines = [
    `| concurrency | case | req/s | p50 / p99 ms | reads by replica | replica tried, primary answered | ratio to A | cores: ${PARTS.map((p) => PART_LABEL[p]).join(' / ')} |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const [concurrency, cases] of round) {
    for (const name of ['A', 'B', "B'"] as const) {
      const r = cases[name];
      lines.push(
        `| ${concurrency} | ${CASE_LABEL[name]} | ${fmt(r.requestsPerSecond)} | ${fmt(r.p50, 1)} / ${fmt(r.p99, 1)} | ${pct(share(r, 'replica'))} | ${pct(share(r, 'fallback'))} | ${name === 'A' ? '1' : (r.requestsPerSecond / cases.A.requestsPerSecond).toFixed(2)} | ${PARTS.map((p) => r.cores[p].toFixed(2)).join(' / ')} |`,
      );
    }
  }
  return lines.join('\n');
}

function summaryTable(rounds: Round[]): string {
  const lines = [
    `| concurrency | case | req/s | p50 ms | p99 ms | reads by replica | replica tried, primary answered | ratio to A | median cores: ${PARTS.map((p) => PART_LABEL[p]).join(' / ')} |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const concurrency of CONCURRENCY) {
    for (const name of ['A', 'B', "B'"] as const) {
      const results = rounds.map((round) => round.get(concurrency)![name]);
      const ratios = rounds.map((round) => round.get(concurrency)![name].requestsPerSecond / round.get(concurrency)!.A.requestsPerSecond);
      lines.push(
        `| ${concurrency} | ${CASE_LABEL[name]} | ${spread(results.map((r) => r.requestsPerSecond), (n) => fmt(n))} | ${spread(results.map((r) => r.p50), (n) => fmt(n, 1))} | ${spread(results.map((r) => r.p99), (n) => fmt(n, 1))} | ${spread(results.map((r) => share(r, 'replica')), pct)} | ${spread(results.map((r) => share(r, 'fallback')), pct)} | ${name === 'A' ? '1' : spread(ratios, (n) => n.toFixed(2))} | ${PARTS.map((p) => median(results.map((r) => r.cores[p])).toFixed(2)).join(' / ')} |`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- the run

const stoppers = new Set<() => Promise<void>>();
async function stopAll(): Promise<void> {
  for (const stop of [...stoppers].reverse()) {
    stoppers.delete(stop);
    await stop().catch((error: unknown) => console.error('cleanup:', error));
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping everything this benchmark started`);
    void stopAll().then(() => process.exit(130));
  });
}

/** Starts `npm run dev` with `env`, runs `body`, stops it. */
async function withDevServer<T>(env: Record<string, string>, body: (server: DevServer) => Promise<T>): Promise<T> {
  const server = await startDevServer(env);
  stoppers.add(server.stop);
  try {
    return await body(server);
  } finally {
    stoppers.delete(server.stop);
    await server.stop();
  }
}

console.log(
  `${TRAINERS} trainers × ${POKEMON_PER_TRAINER} Pokémon; GET mix /pokemon/:id 30%, /trainers/:id 25%, /trainers/:id/pokemon 25%, /pokemon?owner= 20%; ` +
    `${seconds} s per case, ${runs} round(s); ${availableParallelism()} CPUs, load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}`,
);
const cluster = await startReplicatedCluster({ applyDelayMs: replicaDelayMs });
stoppers.add(cluster.close);
const rounds: Round[] = [];
try {
  await prepare(cluster);
    console.log(`cluster: primary + streaming replica (replay delay ${replicaDelayMs} ms), migrated, seeded, replica caught up`);
  for (let run = 0; run < runs; run++) {
    const round: Round = new Map(CONCURRENCY.map((c) => [c, {} as Record<CaseName, Result>]));
    const primaryOnly = async () =>
      withDevServer({ DATABASE_URL: cluster.primaryUrl, READ_CACHE_TTL_SECONDS: '0' }, async (server) => {
        await warmUp(server, false);
        for (const concurrency of CONCURRENCY) round.get(concurrency)!.A = await load(server, concurrency, false);
      });
    const withReplica = async () =>
      withDevServer({ DATABASE_URL: cluster.primaryUrl, DATABASE_REPLICA_URL: cluster.replicaUrl, READ_CACHE_TTL_SECONDS: '0' }, async (server) => {
        await warmUp(server, true);
        for (const concurrency of CONCURRENCY) round.get(concurrency)!.B = await load(server, concurrency, false);
        for (const concurrency of CONCURRENCY) round.get(concurrency)!["B'"] = await load(server, concurrency, true);
      });
    // Alternate which server goes first, so neither always gets the cooler machine.
    const order = run % 2 === 0 ? [primaryOnly, withReplica] : [withReplica, primaryOnly];
    for (const step of order) await step();
    rounds.push(round);
    console.log(`\nround ${run + 1} of ${runs} (${run % 2 === 0 ? 'A first' : 'B first'}):\n\n${roundTable(round)}`);
    for (const [concurrency, cases] of round) {
      const b = cases["B'"];
      const writes = b.requests - b.reads;
      console.log(`  c=${concurrency} B': ${fmt(b.requests)} requests, ${fmt(writes)} PATCHes (p50 ${fmt(b.writeP50, 1)} ms), ${fmt(b.reads)} bookmarked reads (replica ${fmt(b.served.replica)}, fallback ${fmt(b.served.fallback)}, primary only ${fmt(b.served.primary)})`);
    }
  }
} finally {
  await stopAll();
}
if (rounds.length > 1) console.log(`\nmin / **median** / max of ${rounds.length} rounds:\n\n${summaryTable(rounds)}`);
const at32 = rounds.map((round) => round.get(32)!.B.requestsPerSecond / round.get(32)!.A.requestsPerSecond);
console.log(`\nB/A at concurrency 32 = ${median(at32).toFixed(2)} (median of ${rounds.length})`);
