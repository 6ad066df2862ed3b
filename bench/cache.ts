/**
 * `npm run bench:reads`, second part (alone: `npm run bench:reads:cache`): the edge read cache
 * (src/platform/read-cache.ts).
 *
 * 1. Throughput at concurrency 32: `GET /pokemon/:id` over a small fixed set of ids (the six of
 *    the demo seed, so after the warm-up every read is a hit) through `npm run dev` with
 *    READ_CACHE_TTL_SECONDS=60 (**cached**) and =0 (**uncached**), against the floor: a bare
 *    Hono Worker answering a constant (bench/bare-worker.ts) under the same `wrangler dev`, and
 *    that Worker five more times: with wrangler.toml's `[assets]` block (the API's setup), with
 *    the API's request and answer headers, with one Cache API lookup per request, writing the
 *    API's request log line (which a hit does not write: this case shows why), and with the
 *    `[assets]` block, the headers and the lookup at once (all a hit does beyond the API's
 *    JavaScript). The eight cases take turns in short slices (BENCH_SLICE_SECONDS, default
 *    1.5) over many rounds (BENCH_ROUNDS, default 20), the order rotating each round, so the
 *    neighbours' load falls on every case alike; each round's ratio
 *    to the bare Worker's slice of that round is one sample (min / median / max of the rounds).
 * 2. Simulated geography at concurrency 8: the same reads, cached and uncached, with the
 *    stand-ins answering NEON_HTTP_DELAY_MS=80 and UPSTASH_DELAY_MS=5 late (roughly an edge
 *    location far from the database's region, and Upstash's global replica near it).
 *
 * Each case also reports the CPU time its server's process tree spent per request (from /proc):
 * on a shared machine, throughput follows the neighbours' load, CPU per request much less.
 *
 * The hit ratio comes from each answer's `Server-Timing` (`cache;desc="hit-isolate"`,
 * `"hit-edge"` and `"hit-coalesced"` are hits; `"miss"`, `"bypass"` or no `cache` entry are not).
 *
 * The database is a scratch database on the machine's PostgreSQL (BENCH_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres; created and dropped). Redis is the stand-in's
 * in-memory engine on purpose: the cache generation (`readcache:generation`) lives in Redis, and
 * on the machine's shared Redis other suites' writes would bump it in the middle of a case.
 *
 * Geography: BENCH_SECONDS per case (default 5), BENCH_RUNS rounds (default 3; min / median / max).
 * BENCH_VERBOSE=1 shows wrangler's output.
 */
import http from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { createScratchDatabase } from '../local/scratch-database.ts';
import { treeCpuSeconds } from './support/cpu.ts';
import { authorization, startBareWorker, startDevServer, type DevServer } from './support/processes.ts';
import { median, percentile } from './support/stats.ts';

const serverUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const sliceSeconds = Number(process.env.BENCH_SLICE_SECONDS ?? 1.5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 20);
/** Untimed load before each slice, on the slice's sockets: they are open when its clock starts. */
const LEAD_IN_SECONDS = 0.25;
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const runs = Number(process.env.BENCH_RUNS ?? 3);
/** The demo seed's Pokémon (local/db-seed.ts): `npm run dev` adds them to a fresh database. */
const IDS = ['pikachu1', 'charizard1', 'starmie1', 'psyduck1', 'onix1', 'geodude1'];
const CONCURRENCY = 32;
const GEO_CONCURRENCY = 8;
const GEO = { NEON_HTTP_DELAY_MS: '80', UPSTASH_DELAY_MS: '5' };
const REQUEST_TIMEOUT_MS = 30_000;

type Outcome = 'hit-isolate' | 'hit-edge' | 'hit-coalesced' | 'miss' | 'bypass' | 'none';
const OUTCOMES: Outcome[] = ['hit-isolate', 'hit-edge', 'hit-coalesced', 'miss', 'bypass', 'none'];

interface Result {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  /** Median of the Worker's own `total;dur` in Server-Timing (NaN for the bare Worker, which sends none). */
  workerP50: number;
  /** CPU ms per request of the server's whole process tree (wrangler, both workerd, stand-ins): what contention cannot skew. */
  cpuMsPerRequest: number;
  outcomes: Record<Outcome, number>;
  /** Answers other than a 200 with the Pokémon asked for (counted, not thrown: see the README). */
  errors: number;
  /** A few distinct Server-Timing values of non-hits (status first), to show what they said. */
  nonHitTimings: Set<string>;
}

interface Target {
  url: string;
  /** The server's top process: its tree's CPU time is measured. */
  pid: number;
  headers: Record<string, string>;
  /** Whether each answer's body must be the Pokémon asked for. */
  checkBody: boolean;
}

function carries(body: string, id: string): boolean {
  try {
    return (JSON.parse(body) as { id?: unknown }).id === id;
  } catch {
    return false;
  }
}

const CACHE_DESC = /(?:^|, )cache;desc="([^"]*)"/;
const TOTAL_DUR = /(?:^|, )total;dur=([\d.]+)/;

function send(target: Target, agent: http.Agent, path: string): Promise<{ status: number; timing: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${target.url}${path}`, { agent, headers: target.headers, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, timing: String(response.headers['server-timing'] ?? ''), body }));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${path}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end();
  });
}


/** `concurrency` loops of `GET /pokemon/:id` over IDS for `durationSeconds`, on `agent`'s sockets (a new agent when none is given). */
async function load(target: Target, concurrency: number, durationSeconds: number, kept?: http.Agent): Promise<Result> {
  const agent = kept ?? new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const workerTimes: number[] = [];
  const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  const nonHitTimings = new Set<string>();
  let errors = 0;
  const cpuBefore = treeCpuSeconds([target.pid]);
  const started = performance.now();
  const deadline = started + durationSeconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async (_, loop) => {
        for (let i = loop; performance.now() < deadline; i++) {
          const path = `/pokemon/${IDS[i % IDS.length]}`;
          const start = performance.now();
          const { status: answered, timing, body } = await send(target, agent, path);
          latencies.push(performance.now() - start);
          // A 200 must carry the Pokémon asked for (the bare Worker's constant is exempt): an empty or wrong body is an error.
          const status = answered === 200 && target.checkBody && !carries(body, IDS[i % IDS.length]!) ? 'bad body' : answered;
          const total = TOTAL_DUR.exec(timing);
          if (total) workerTimes.push(Number(total[1]));
          const outcome = (CACHE_DESC.exec(timing)?.[1] ?? 'none') as Outcome;
          // An error is no hit, whatever Server-Timing says (a coalesced reader can fail after "hit-coalesced").
          if (status !== 200) errors += 1;
          else outcomes[OUTCOMES.includes(outcome) ? outcome : 'none'] += 1;
          if ((status !== 200 || !outcome.startsWith('hit')) && nonHitTimings.size < 6) nonHitTimings.add(`${status}: ${timing.replace(/dur=[\d.]+/g, 'dur=…')}`);
        }
      }),
    );
  } finally {
    if (kept === undefined) agent.destroy();
  }
  const elapsed = (performance.now() - started) / 1000;
  const cpuMsPerRequest = ((treeCpuSeconds([target.pid]) - cpuBefore) * 1000) / Math.max(1, latencies.length);
  latencies.sort((a, b) => a - b);
  workerTimes.sort((a, b) => a - b);
  const workerP50 = percentile(workerTimes, 50);
  return { requestsPerSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), requests: latencies.length, workerP50, cpuMsPerRequest, outcomes, errors, nonHitTimings };
}

/** Hits (200s that Server-Timing calls `hit-…`) among all answers. */
const hitShare = (r: Result) => (r.requests ? (r.outcomes['hit-isolate'] + r.outcomes['hit-edge'] + r.outcomes['hit-coalesced']) / r.requests : 0);

// ---------------------------------------------------------------- output

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (share: number) => `${(100 * share).toFixed(share > 0.99 && share < 1 ? 2 : 0)}%`;
function spread(values: number[], show: (n: number) => string): string {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 1) return show(sorted[0]!);
  return `${show(sorted[0]!)} / **${show(median(sorted))}** / ${show(sorted.at(-1)!)}`;
}
const loadAverage = () => loadavg().map((n) => n.toFixed(2)).join(' ');

// ---------------------------------------------------------------- the run

const stoppers: (() => Promise<void>)[] = [];
async function stopAll(): Promise<void> {
  for (const stop of stoppers.splice(0).reverse()) await stop().catch((error: unknown) => console.error('cleanup:', error));
}
let dropScratch = async () => {};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping everything this benchmark started`);
    void stopAll().then(() => dropScratch()).then(() => process.exit(130));
  });
}

async function dev(env: Record<string, string>): Promise<DevServer> {
  const server = await startDevServer(env);
  stoppers.push(server.stop);
  return server;
}
const apiTarget = (server: DevServer): Target => ({ url: server.url, pid: server.pid, headers: authorization(server), checkBody: true });

/** Untimed: wrangler has bundled, workerd is warm, pools are open, and (cached) every id is stored. */
async function warmUp(target: Target, concurrency: number): Promise<void> {
  // One id at a time first: a cold key read by many at once goes through the isolate's coalescing.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const id of [...IDS, ...IDS]) await send(target, agent, `/pokemon/${id}`);
  } finally {
    agent.destroy();
  }
  await load(target, concurrency, 1);
}

type Case = 'bare' | 'bareAssets' | 'bareHeaders' | 'bareLookup' | 'bareLog' | 'bareAll' | 'cached' | 'uncached';
const CASE_LABEL: Record<Case, string> = {
  bare: 'bare Hono Worker, constant answer (the floor)',
  bareAssets: 'bare Worker with the API\'s `[assets]` block (wrangler.toml)',
  bareHeaders: 'bare Worker + the API\'s request and answer headers',
  bareLookup: 'bare Worker + one Cache API lookup',
  bareLog: 'bare Worker + the API\'s request log line',
  bareAll: 'bare Worker with `[assets]` + headers + lookup (what a hit does beyond the API\'s JavaScript)',
  cached: '`GET /pokemon/:id`, read cache on (TTL 60 s)',
  uncached: '`GET /pokemon/:id`, read cache off (TTL 0)',
};

const order: Case[] = ['bare', 'bareAssets', 'bareHeaders', 'bareLookup', 'bareLog', 'bareAll', 'cached', 'uncached'];

console.log(
  `read cache: GET /pokemon/:id over ${IDS.length} ids, ${rounds} rounds of ${sliceSeconds} s per case; ` +
    `${availableParallelism()} CPUs, load average ${loadAverage()}`,
);
const scratch = await createScratchDatabase(serverUrl, 'bench_cache');
dropScratch = scratch.drop;
const results: Record<Case, Result>[] = [];
const geoRounds: { cached: Result; uncached: Result }[] = [];
const loads: string[] = [];
try {
  // One at a time: the first start migrates the fresh database and adds the demo rows.
  const cached = await dev({ DATABASE_URL: scratch.url, READ_CACHE_TTL_SECONDS: '60' });
  const uncached = await dev({ DATABASE_URL: scratch.url, READ_CACHE_TTL_SECONDS: '0' });
  const bareWorker = await startBareWorker();
  stoppers.push(bareWorker.stop);
  const bareWithAssets = await startBareWorker({ assets: true });
  stoppers.push(bareWithAssets.stop);
  const bare = (headers: Record<string, string>): Target => ({ url: bareWorker.url, pid: bareWorker.pid, headers, checkBody: false });
  const targets: Record<Case, Target> = {
    bare: bare({}),
    bareAssets: { url: bareWithAssets.url, pid: bareWithAssets.pid, headers: {}, checkBody: false },
    bareHeaders: bare({ ...authorization(cached), 'X-Bench-Api-Headers': '1' }),
    bareLookup: bare({ 'X-Bench-Lookup': '1' }),
    bareLog: bare({ 'X-Bench-Log': '1' }),
    bareAll: { url: bareWithAssets.url, pid: bareWithAssets.pid, headers: { ...authorization(cached), 'X-Bench-Api-Headers': '1', 'X-Bench-Lookup': '1' }, checkBody: false },
    cached: apiTarget(cached),
    uncached: apiTarget(uncached),
  };
  for (const name of order) await warmUp(targets[name], CONCURRENCY);
  for (let run = 0; run < rounds; run++) {
    const round = {} as Record<Case, Result>;
    // Rotate the order, so no case always gets the machine right after the same neighbour.
    for (const name of [...order.slice(run % order.length), ...order.slice(0, run % order.length)]) {
      // Fresh sockets each slice (the server closes idle ones while other cases run), opened by the lead-in.
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      try {
        await load(targets[name], CONCURRENCY, LEAD_IN_SECONDS, agent);
        round[name] = await load(targets[name], CONCURRENCY, sliceSeconds, agent);
      } finally {
        agent.destroy();
      }
    }
    results.push(round);
    loads.push(loadAverage());
    console.log(`\nround ${run + 1} of ${rounds} (load average ${loads.at(-1)}):`);
    for (const name of order) {
      const r = round[name];
      console.log(
        `  ${name.padEnd(11)} ${fmt(r.requestsPerSecond).padStart(6)}/s  p50 ${fmt(r.p50, 1).padStart(5)} ms  p99 ${fmt(r.p99, 1).padStart(6)} ms  CPU ${fmt(r.cpuMsPerRequest, 2)} ms/request  ${name.startsWith('bare') ? '' : `Worker total;dur p50 ${fmt(r.workerP50, 1)} ms  `}` +
          `${name.startsWith('bare') ? '' : `hits ${pct(hitShare(r))} (${[...OUTCOMES.filter((o) => r.outcomes[o]).map((o) => `${o} ${r.outcomes[o]}`), ...(r.errors ? [`errors ${r.errors}`] : [])].join(', ')})`}`,
      );
      if (!name.startsWith('bare') && r.nonHitTimings.size && (name === 'cached' || r.errors)) console.log(`           non-hits said: ${[...r.nonHitTimings].join(' | ')}`);
    }
  }
  await stopAll();

  const geoCached = await dev({ DATABASE_URL: scratch.url, READ_CACHE_TTL_SECONDS: '60', ...GEO });
  const geoUncached = await dev({ DATABASE_URL: scratch.url, READ_CACHE_TTL_SECONDS: '0', ...GEO });
  for (let run = 0; run < runs; run++) {
    const pair = run % 2 === 0 ? (['cached', 'uncached'] as const) : (['uncached', 'cached'] as const);
    const round = {} as { cached: Result; uncached: Result };
    for (const name of pair) {
      const target = apiTarget(name === 'cached' ? geoCached : geoUncached);
      await warmUp(target, GEO_CONCURRENCY);
      round[name] = await load(target, GEO_CONCURRENCY, seconds);
    }
    geoRounds.push(round);
    console.log(
      `\ngeography round ${run + 1} of ${runs} (Neon +${GEO.NEON_HTTP_DELAY_MS} ms, Upstash +${GEO.UPSTASH_DELAY_MS} ms; load average ${loadAverage()}): ` +
        `cached p50 ${fmt(round.cached.p50, 1)} ms (${fmt(round.cached.requestsPerSecond)}/s, hits ${pct(hitShare(round.cached))}, errors ${round.cached.errors}), ` +
        `uncached p50 ${fmt(round.uncached.p50, 1)} ms (${fmt(round.uncached.requestsPerSecond)}/s, errors ${round.uncached.errors})`,
    );
    if (round.cached.nonHitTimings.size) console.log(`  cached non-hits said: ${[...round.cached.nonHitTimings].join(' | ')}`);
  }
} finally {
  await stopAll();
  await scratch.drop();
}

const of = (name: Case) => results.map((round) => round[name]);
const loadOnes = loads.map((line) => Number(line.split(' ')[0]));
const throughput = [
  `\nmin / **median** / max of ${results.length} rounds, concurrency ${CONCURRENCY}, ${sliceSeconds} s per case per round (1-minute load average after each round: ${spread(loadOnes, (n) => n.toFixed(1))}):\n`,
  '| case | req/s | ÷ bare Worker | p50 ms | p99 ms | CPU ms / request | CPU ÷ bare Worker | Worker `total;dur` p50 ms | cache hits | bad answers |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...order.map((name) => {
    const ofCase = of(name);
    const ratios = results.map((round) => round[name].requestsPerSecond / round.bare.requestsPerSecond);
    const cpuRatios = results.map((round) => round[name].cpuMsPerRequest / round.bare.cpuMsPerRequest);
    return (
      `| ${CASE_LABEL[name]} | ${spread(ofCase.map((r) => r.requestsPerSecond), (n) => fmt(n))} | ${name === 'bare' ? '1' : spread(ratios, (n) => n.toFixed(2))} | ` +
      `${spread(ofCase.map((r) => r.p50), (n) => fmt(n, 1))} | ${spread(ofCase.map((r) => r.p99), (n) => fmt(n, 1))} | ${spread(ofCase.map((r) => r.cpuMsPerRequest), (n) => fmt(n, 2))} | ${name === 'bare' ? '1' : spread(cpuRatios, (n) => n.toFixed(2))} | ` +
      `${name.startsWith('bare') ? '—' : spread(ofCase.map((r) => r.workerP50), (n) => fmt(n, 1))} | ${name.startsWith('bare') ? '—' : spread(ofCase.map(hitShare), pct)} | ${spread(ofCase.map((r) => r.errors), (n) => fmt(n))} |`
    );
  }),
].join('\n');
console.log(throughput);

const geo = [
  `\nsimulated geography (Neon stand-in +${GEO.NEON_HTTP_DELAY_MS} ms, Upstash +${GEO.UPSTASH_DELAY_MS} ms per request), concurrency ${GEO_CONCURRENCY}, min / **median** / max of ${geoRounds.length}:\n`,
  '| case | p50 ms | p99 ms | Worker `total;dur` p50 ms | req/s | cache hits | bad answers |',
  '|---|---|---|---|---|---|---|',
  ...(['cached', 'uncached'] as const).map((name) => {
    const results = geoRounds.map((round) => round[name]);
    return `| ${CASE_LABEL[name]} | ${spread(results.map((r) => r.p50), (n) => fmt(n, 1))} | ${spread(results.map((r) => r.p99), (n) => fmt(n, 1))} | ${spread(results.map((r) => r.workerP50), (n) => fmt(n, 1))} | ${spread(results.map((r) => r.requestsPerSecond), (n) => fmt(n))} | ${spread(results.map(hitShare), pct)} | ${spread(results.map((r) => r.errors), (n) => fmt(n))} |`;
  }),
].join('\n');
console.log(geo);
const cachedRatio = (floor: Case) => median(results.map((round) => round.cached.requestsPerSecond / round[floor].requestsPerSecond)).toFixed(2);
console.log(`\ncached / bare Worker at concurrency ${CONCURRENCY} = ${cachedRatio('bare')} (median of ${results.length} rounds; target ≥ 0.8)`);
console.log(`cached / bare Worker with the API's [assets] block = ${cachedRatio('bareAssets')}`);
console.log(`cached / bare Worker doing all a hit does beyond the API's JavaScript = ${cachedRatio('bareAll')}`);
