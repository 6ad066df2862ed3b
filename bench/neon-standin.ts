/**
 * `npm run bench:standin`: `SELECT 1` round trips per second through the Neon stand-in
 * (real @neondatabase/serverless client → HTTP → pooled PostgreSQL) against direct `pg` on
 * the same server, in the same run. The stand-in runs in its own process, as under `npm run dev`.
 * The stand-in must not be what limits later benchmarks.
 *
 * BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS (default 3).
 */
import { neon, neonConfig } from '@neondatabase/serverless';
import pg from 'pg';
import { startStandinProcess } from './support/processes.ts';

const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const seconds = Number(process.env.BENCH_SECONDS ?? 3);


/** Runs `query` from `concurrency` loops for `seconds`; returns queries per second. */
async function throughput(concurrency: number, query: () => Promise<unknown>): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await query();
        done += 1;
      }
    }),
  );
  return done / seconds;
}

const standins = await startStandinProcess({ DATABASE_URL: postgresUrl });
neonConfig.fetchEndpoint = standins.bindings.NEON_FETCH_ENDPOINT!;
const sql = neon(standins.bindings.DATABASE_URL!);
const pool = new pg.Pool({ connectionString: postgresUrl, max: 20 });

console.log(`SELECT 1 for ${seconds}s per case; ratio = stand-in / direct pg (higher is better)`);
let sequentialRatio = 0;
for (const concurrency of [1, 16]) {
  await throughput(1, () => pool.query('SELECT 1')); // warm both paths
  const direct = await throughput(concurrency, () => pool.query('SELECT 1'));
  const standin = await throughput(concurrency, () => sql`SELECT 1`);
  const ratio = standin / direct;
  if (concurrency === 1) sequentialRatio = ratio;
  console.log(
    `concurrency ${String(concurrency).padStart(2)}: direct pg ${direct.toFixed(0).padStart(6)}/s, ` +
      `stand-in ${standin.toFixed(0).padStart(6)}/s (+${(concurrency * 1000 * (1 / standin - 1 / direct)).toFixed(2)} ms a query), ` +
      `ratio ${ratio.toFixed(2)}`,
  );
}
await pool.end();
await standins.stop();
console.log(`stand-in/pg at concurrency 1 = ${sequentialRatio.toFixed(2)}`);
