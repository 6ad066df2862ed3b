/**
 * `npm run bench:standin`: `SELECT 1` round trips per second through the Neon stand-in
 * against direct `pg` on the same server, in the same run. The stand-in runs in its own
 * process, as under `npm run dev`. Two clients go through it: a bare keep-alive HTTP client
 * (the stand-in's own capacity) and the real @neondatabase/serverless client on Node's fetch.
 *
 * BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS (default 3).
 */
import { neon, neonConfig } from '@neondatabase/serverless';
import http from 'node:http';
import pg from 'pg';
import { startStandinProcess } from './support/processes.ts';

const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const seconds = Number(process.env.BENCH_SECONDS ?? 3);

/** Runs `query` from `concurrency` loops for `seconds`; returns queries per second. */
async function throughput(concurrency: number, query: () => Promise<unknown>): Promise<number> {
  await query(); // warm up connections
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
const endpoint = standins.bindings.NEON_FETCH_ENDPOINT!;
const connectionString = standins.bindings.DATABASE_URL!;
neonConfig.fetchEndpoint = endpoint;
const sql = neon(connectionString);
const pool = new pg.Pool({ connectionString: postgresUrl, max: 20 });
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const body = JSON.stringify({ query: 'SELECT 1', params: [] });

/** One `/sql` POST on a kept-alive socket, reading the whole answer. */
const rawPost = () =>
  new Promise<void>((resolve, reject) => {
    const request = http.request(endpoint, { method: 'POST', agent, headers: { 'Neon-Connection-String': connectionString } }, (response) => {
      response.resume();
      response.on('end', resolve);
    });
    request.on('error', reject);
    request.end(body);
  });

console.log(`SELECT 1 for ${seconds}s per case; ratio = stand-in / direct pg`);
const ratios: Record<string, number> = {};
for (const concurrency of [1, 16]) {
  const direct = await throughput(concurrency, () => pool.query('SELECT 1'));
  const raw = await throughput(concurrency, rawPost);
  const client = await throughput(concurrency, () => sql`SELECT 1`);
  ratios[`raw@${concurrency}`] = raw / direct;
  console.log(
    `concurrency ${String(concurrency).padStart(2)}: direct pg ${direct.toFixed(0).padStart(6)}/s | ` +
      `stand-in, keep-alive HTTP ${raw.toFixed(0).padStart(5)}/s (ratio ${(raw / direct).toFixed(2)}) | ` +
      `stand-in, neon() on Node fetch ${client.toFixed(0).padStart(5)}/s (ratio ${(client / direct).toFixed(2)})`,
  );
}
await pool.end();
agent.destroy();
await standins.stop();
console.log(`stand-in/pg at concurrency 16 = ${ratios['raw@16']!.toFixed(2)}`);
