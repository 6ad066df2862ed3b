/**
 * `npm run bench:auth`: what authentication adds to a write. `POST /trainers` (a fresh id each
 * time) through `wrangler dev` on the stand-ins over the machine's PostgreSQL and Redis, one
 * request at a time, with three kinds of caller:
 *
 * - **bootstrap** — the ADMIN_API_KEY the server was started with: no database row, no rate
 *   limit, so no authentication round trip at all (the baseline);
 * - **warm key** — one API key with the `write` scope (made once through `POST /keys`), already
 *   verified: its isolate remembers it for 5 s, so each request adds only the rate limit's Redis
 *   round trip (and a database one whenever that 5 s memory has lapsed);
 * - **cold key** — a key made (untimed) just before each timed request, so every timed request
 *   verifies it against the database as well.
 *
 * The cases are interleaved round-robin (their order rotating every round) on one kept-alive
 * socket, so the machine's noise lands on each alike. Per case: p50 / p90 / p99 latency, the mean
 * round-trip counts from `Server-Timing`, and the added latency = the median of the per-round
 * differences from the bootstrap request of the same round.
 *
 * BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server (a
 * scratch database is created and dropped); BENCH_REDIS_URL (default redis://127.0.0.1:6379/0);
 * BENCH_REQUESTS per case (default 200); BENCH_VERBOSE=1 shows wrangler's output.
 */
import http from 'node:http';
import { loadavg } from 'node:os';
import { createScratchDatabase } from '../local/scratch-database.ts';
import { authorization, startDevServer, type DevServer } from './support/processes.ts';

const serverUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
/** Untimed rounds of every case first (JIT, sockets, pools); the first one also warms the warm key. */
const WARMUP_ROUNDS = 5;

const CASES = ['bootstrap', 'warm', 'cold'] as const;
type Case = (typeof CASES)[number];
const LABELS: Record<Case, string> = {
  bootstrap: 'bootstrap admin key (no lookup, no limit)',
  warm: 'warm API key (`write`)',
  cold: 'cold API key (verified per request)',
};

interface Answer {
  status: number;
  body: string;
  ms: number;
  db: number;
  redis: number;
  /** The Worker's own `total;dur=`, and its `db;dur=` / `redis;dur=`, in ms. */
  serverMs: number;
  dbMs: number;
  redisMs: number;
}

function send(server: DevServer, agent: http.Agent, path: string, bearer: string, payload: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const request = http.request(
      `${server.url}${path}`,
      { method: 'POST', agent, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bearer}` } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const ms = performance.now() - start;
          const timing = String(response.headers['server-timing'] ?? '');
          const count = (name: string) => Number(new RegExp(`(?:^|, )${name};count=(\\d+)`).exec(timing)?.[1] ?? NaN);
          const dur = (name: string) => Number(new RegExp(`(?:^|, )${name};(?:count=\\d+;)?dur=([\\d.]+)`).exec(timing)?.[1] ?? NaN);
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms,
            db: count('db'),
            redis: count('redis'),
            serverMs: dur('total'),
            dbMs: dur('db'),
            redisMs: dur('redis'),
          });
        });
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(payload));
  });
}

async function expect(answer: Promise<Answer>, status: number, what: string): Promise<Answer> {
  const result = await answer;
  if (result.status !== status) throw new Error(`${what} answered ${result.status}: ${result.body}`);
  return result;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`load average ${load()}; ${REQUESTS} timed POST /trainers per case, concurrency 1, cases interleaved round-robin`);

const scratch = await createScratchDatabase(serverUrl, 'bench_auth');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const dev = await startDevServer({ DATABASE_URL: scratch.url, REDIS_URL: redisUrl }).catch(async (error: unknown) => {
  await scratch.drop();
  throw error;
});
try {
  const admin = authorization(dev).Authorization.slice('Bearer '.length);
  const newKey = async (name: string) =>
    (JSON.parse((await expect(send(dev, agent, '/keys', admin, { name, scopes: ['write'] }), 201, 'POST /keys')).body) as { key: string }).key;
  const warmKey = await newKey('bench warm');

  let trainers = 0;
  const createTrainer = (bearer: string) =>
    expect(
      send(dev, agent, '/trainers', bearer, { id: `bench-auth-${++trainers}`, firstName: 'Ash', lastName: 'Ketchum', dateOfBirth: '2000-01-01' }),
      201,
      'POST /trainers',
    );
  const request: Record<Case, () => Promise<Answer>> = {
    bootstrap: () => createTrainer(admin),
    warm: () => createTrainer(warmKey),
    cold: async () => createTrainer(await newKey(`bench cold ${trainers}`)),
  };

  for (let round = 0; round < WARMUP_ROUNDS; round++) for (const name of CASES) await request[name]();

  const answers: Record<Case, Answer[]> = { bootstrap: [], warm: [], cold: [] };
  for (let round = 0; round < REQUESTS; round++) {
    for (let k = 0; k < CASES.length; k++) {
      const name = CASES[(round + k) % CASES.length]!;
      answers[name].push(await request[name]());
    }
  }

  console.log(`load average ${load()} at the end\n`);
  console.log('| case | p50 | p90 | p99 ms | added vs bootstrap (median of per-round differences) | Worker p50 ms | db round trips (median ms) | redis round trips (median ms) |');
  console.log('|---|---|---|---|---|---|---|---|');
  const summary: Record<string, unknown> = {};
  for (const name of CASES) {
    const rows = answers[name];
    const ms = rows.map((a) => a.ms).sort((a, b) => a - b);
    const added = median(rows.map((a, i) => a.ms - answers.bootstrap[i]!.ms));
    const figures = {
      p50: percentile(ms, 50),
      p90: percentile(ms, 90),
      p99: percentile(ms, 99),
      added,
      serverP50: median(rows.map((a) => a.serverMs)),
      dbMs: median(rows.map((a) => a.dbMs)),
      redisMs: median(rows.map((a) => a.redisMs)),
      db: mean(rows.map((a) => a.db)),
      redis: mean(rows.map((a) => a.redis)),
      dbMax: Math.max(...rows.map((a) => a.db)),
      extraDb: rows.filter((a) => a.db > Math.min(...rows.map((b) => b.db))).length,
    };
    summary[name] = figures;
    console.log(
      `| ${LABELS[name]} | ${figures.p50.toFixed(1)} | ${figures.p90.toFixed(1)} | ${figures.p99.toFixed(1)} | ` +
        `${name === 'bootstrap' ? '—' : `${added >= 0 ? '+' : ''}${added.toFixed(1)} ms`} | ${figures.serverP50.toFixed(1)} | ` +
        `${figures.db.toFixed(2)} (${figures.dbMs.toFixed(1)}) | ${figures.redis.toFixed(2)} (${figures.redisMs.toFixed(1)}) |`,
    );
  }
  const warm = summary.warm as { extraDb: number };
  console.log(`\nwarm key: ${warm.extraDb} of ${REQUESTS} requests re-verified the key (its isolate's 5 s memory had lapsed)`);
  console.log(`json ${JSON.stringify({ load: loadavg(), ...summary })}`);
} finally {
  agent.destroy();
  await dev.stop();
  await scratch.drop();
}
