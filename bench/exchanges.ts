/**
 * `npm run bench:exchanges`: `POST /exchanges` per second and its latency at concurrency 1, 8
 * and 64, through `wrangler dev` on the stand-ins over the machine's PostgreSQL and Redis. The
 * baseline, in the same run on the same data: the very same exchange statement
 * (`createExchange` from src/domain/exchanges.ts) sent straight to PostgreSQL over a `pg`
 * pool the size of the stand-in's, with no Worker, HTTP or stand-in in between.
 *
 * Each client loop trades one Pokémon for one: it picks a Pokémon, and one of another trainer,
 * from what it believes the owners are (updated from every answer). Concurrent loops act on
 * stale beliefs now and then, so some trades conflict (409); the rate is printed.
 *
 * BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server (a
 * scratch database is created and dropped); BENCH_REDIS_URL (default redis://127.0.0.1:6379/0);
 * BENCH_SECONDS per case (default 5); BENCH_VERBOSE=1 shows wrangler's output.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import http from 'node:http';
import pg from 'pg';
import { createExchange, type NewExchange, type OwnershipConflict } from '../src/domain/exchanges.ts';
import { requestIds } from '../src/domain/request-ids.ts';
import type { Database } from '../src/platform/database.ts';
import { createScratchDatabase } from '../local/scratch-database.ts';
import { authorization, startDevServer, type DevServer } from './support/processes.ts';
import { seedTrainersAndPokemon } from './support/seed.ts';
import { percentile } from './support/stats.ts';

const serverUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const TRAINERS = 100;
const POKEMON_PER_TRAINER = 10;
const CONCURRENCY = [1, 8, 64];
/** The Neon stand-in's pool size (local/neon-http/postgres-engine.ts): the baseline gets as many sessions. */
const POOL_SIZE = 20;

type Outcome = { status: 'created' } | { status: 'conflict'; conflicts: OwnershipConflict[] };
type Trade = (exchange: NewExchange) => Promise<Outcome>;

interface Result {
  exchangesPerSecond: number;
  attemptsPerSecond: number;
  conflictRate: number;
  p50: number;
  p99: number;
}

/** Who owns what, read fresh before each case. */
async function owners(pool: pg.Pool): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ id: string; owner_id: string }>('SELECT id, owner_id FROM pokemon');
  return new Map(rows.map((row) => [row.id, row.owner_id]));
}

/** A one-for-one trade between a random Pokémon's owner and another trainer, as `believed` has it. */
function nextTrade(believed: Map<string, string>, ids: string[]): NewExchange {
  const pick = () => ids[Math.floor(Math.random() * ids.length)]!;
  const mine = pick();
  let theirs = pick();
  while (believed.get(theirs) === believed.get(mine)) theirs = pick();
  return { trainerA: believed.get(mine)!, trainerB: believed.get(theirs)!, pokemonsA: [mine], pokemonsB: [theirs] };
}

/** What the answer teaches about owners. */
function learn(believed: Map<string, string>, exchange: NewExchange, outcome: Outcome): void {
  if (outcome.status === 'created') {
    for (const id of exchange.pokemonsA) believed.set(id, exchange.trainerB);
    for (const id of exchange.pokemonsB) believed.set(id, exchange.trainerA);
  } else {
    for (const { pokemon, owner } of outcome.conflicts) believed.set(pokemon, owner);
  }
}


/** Runs `concurrency` loops of trades for BENCH_SECONDS. */
async function run(concurrency: number, trade: Trade, believed: Map<string, string>): Promise<Result> {
  const ids = [...believed.keys()];
  const latencies: number[] = [];
  let created = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const exchange = nextTrade(believed, ids);
        const start = performance.now();
        const outcome = await trade(exchange);
        latencies.push(performance.now() - start);
        if (outcome.status === 'created') created += 1;
        learn(believed, exchange, outcome);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    exchangesPerSecond: created / elapsed,
    attemptsPerSecond: latencies.length / elapsed,
    conflictRate: 1 - created / latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** `POST /exchanges` on a kept-alive socket; also checks the one-round-trip contract. */
function apiTrade(server: DevServer, agent: http.Agent): Trade {
  return (exchange) =>
    new Promise((resolve, reject) => {
      const request = http.request(`${server.url}/exchanges`, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', ...authorization(server) } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { conflicts?: OwnershipConflict[] };
          if (!/(^|, )db;count=1;/.test(String(response.headers['server-timing']))) reject(new Error(`not one round trip: ${response.headers['server-timing']}`));
          else if (response.statusCode === 201) resolve({ status: 'created' });
          else if (response.statusCode === 409) resolve({ status: 'conflict', conflicts: body.conflicts! });
          else reject(new Error(`POST /exchanges answered ${response.statusCode}: ${JSON.stringify(body)}`));
        });
      });
      request.on('error', reject);
      request.end(JSON.stringify(exchange));
    });
}

/** The same statement straight to PostgreSQL. */
function directTrade(db: Database): Trade {
  return async (exchange) => {
    const result = await createExchange(db, await requestIds('ex', 'exchanges', undefined, exchange), exchange);
    if (result.status === 'unknown') throw new Error(`unknown ids: ${JSON.stringify(result)}`);
    return result.status === 'created' ? { status: 'created' } : { status: 'conflict', conflicts: result.conflicts };
  };
}

const format = (r: Result) =>
  `${r.exchangesPerSecond.toFixed(0).padStart(5)} exchanges/s (${r.attemptsPerSecond.toFixed(0).padStart(5)} tries/s, ` +
  `${(r.conflictRate * 100).toFixed(1).padStart(4)}% conflicts) p50 ${r.p50.toFixed(1).padStart(5)} ms p99 ${r.p99.toFixed(1).padStart(6)} ms`;

const scratch = await createScratchDatabase(serverUrl, 'bench_exchanges');
const pool = new pg.Pool({ connectionString: scratch.url, max: POOL_SIZE });
const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(...CONCURRENCY) });
const dev = await startDevServer({ DATABASE_URL: scratch.url, REDIS_URL: redisUrl }).catch(async (error: unknown) => {
  await scratch.drop();
  throw error;
});
let at64 = NaN;
try {
  await seedTrainersAndPokemon(pool, TRAINERS, POKEMON_PER_TRAINER);
  // node-postgres drizzle runs the same raw SQL and answers `{ rows }` like neon-http.
  const db = drizzle({ client: pool }) as unknown as Database;
  const api = apiTrade(dev, agent);
  const direct = directTrade(db);
  console.log(`${TRAINERS} trainers × ${POKEMON_PER_TRAINER} Pokémon, one-for-one trades, ${seconds} s per case; ratio = API / direct pg`);
  for (const concurrency of CONCURRENCY) {
    const viaApi = await run(concurrency, api, await owners(pool));
    const viaPg = await run(concurrency, direct, await owners(pool));
    if (concurrency === 64) at64 = viaApi.exchangesPerSecond;
    console.log(`concurrency ${String(concurrency).padStart(2)}`);
    console.log(`  API (wrangler dev → Neon/Upstash stand-ins → PostgreSQL)  ${format(viaApi)}`);
    console.log(`  direct pg, same statement, pool of ${POOL_SIZE}               ${format(viaPg)}`);
    console.log(`  ratio ${(viaApi.exchangesPerSecond / viaPg.exchangesPerSecond).toFixed(2)}`);
  }
} finally {
  agent.destroy();
  await pool.end();
  await dev.stop();
  await scratch.drop();
}
console.log(`exchanges/s at 64 = ${at64.toFixed(0)}`);
