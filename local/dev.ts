/**
 * `npm run dev`: the whole local stack in one command.
 *
 * Starts the Neon and Upstash stand-ins (embedded PGlite + in-memory Redis by default; the
 * machine's servers when DATABASE_URL / REDIS_URL are set), applies migrations, then runs
 * `wrangler dev` with bindings that point at the stand-ins. Ctrl-C or SIGTERM stops it all.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { migrate } from './db-migrate.ts';
import { seed } from './db-seed.ts';
import { standinOptionsFromEnv, startStandins } from './standins.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const port = Number(process.env.PORT ?? 8787);

const standins = await startStandins(standinOptionsFromEnv({ pgliteDir: `${ROOT}.data/pglite`, neonPort: 4444, upstashPort: 8079 }));
const database = { databaseUrl: standins.bindings.DATABASE_URL, fetchEndpoint: standins.bindings.NEON_FETCH_ENDPOINT };
const applied = await migrate(database);
// A brand-new database gets the demo data; an existing one is left as it is.
const seeded = applied > 0 ? await seed(database) : 0;
console.log(`[dev] stand-ins on ${standins.engines}; ${applied} migration(s) applied${seeded ? `, ${seeded} demo trainers added` : ''}`);
console.log(`[dev]   Neon SQL over HTTP  ${standins.bindings.NEON_FETCH_ENDPOINT}`);
console.log(`[dev]   Upstash REST        ${standins.bindings.UPSTASH_REDIS_REST_URL}`);

const wrangler = spawn(
  'npx',
  [
    'wrangler', 'dev', '--port', String(port), '--ip', '127.0.0.1',
    ...Object.entries(standins.bindings).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
  ],
  {
    cwd: ROOT,
    stdio: 'inherit',
    // Its own process group, so stopping it also stops workerd.
    detached: true,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  },
);
console.log(`[dev] API on http://127.0.0.1:${port} (docs: /docs)`);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (wrangler.exitCode === null && wrangler.pid) {
    try {
      process.kill(-wrangler.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await standins.close();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
wrangler.on('exit', (code) => void stop(code ?? 0));
