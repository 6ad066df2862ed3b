/**
 * `npm run dev`: the whole local stack in one command.
 *
 * Starts the Neon and Upstash stand-ins (embedded PGlite + in-memory Redis by default; the
 * machine's servers when DATABASE_URL / REDIS_URL are set), applies migrations, then runs
 * `wrangler dev` with bindings that point at the stand-ins. Ctrl-C or SIGTERM stops it all.
 *
 * DATABASE_REPLICA_URL (comma-separated postgres:// URLs of real streaming replicas of the
 * DATABASE_URL server) adds read replicas; the Worker gets their stand-in connection strings.
 * NEON_HTTP_DELAY_MS / UPSTASH_DELAY_MS (default 0) delay every answer of that stand-in, to
 * simulate the distance from the edge to Neon's and Upstash's regions.
 *
 * Bindings reach wrangler through a 0600 env file under `.data/` (`--env-file`), never its
 * command line (anyone on the machine can read /proc/<pid>/cmdline). With `--env-file`
 * wrangler skips `.dev.vars`, so that file is folded in first; then every Worker binding set
 * in this process's environment (the environment wins over `.dev.vars`); the stand-ins' last.
 * The bindings are also written to `.data/standins.json`, where `npm run db:migrate` and
 * `npm run db:seed` find them; both files are removed on exit.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { DEV_STANDINS_FILE, migrate } from './db-migrate.ts';
import { seed } from './db-seed.ts';
import { standinOptionsFromEnv, startStandins } from './standins.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA_DIR = `${ROOT}.data`;
const ENV_FILE = `${DATA_DIR}/wrangler-dev.env`;
const port = Number(process.env.PORT ?? 8787);

/**
 * Worker bindings (see src/env.ts) that this process passes on from its own environment.
 * DATABASE_URL and DATABASE_REPLICA_URL are not among them: here they name the real servers
 * behind the stand-in, and the Worker gets the stand-in's connection strings instead.
 */
const WORKER_BINDINGS_FROM_ENV = [
  'ADMIN_API_KEY',
  'CORS_ORIGINS',
  'DEPENDENCY_TIMEOUT_MS',
  'PUBLIC_READS',
  'RATE_LIMIT_REQUESTS',
  'RATE_LIMIT_WINDOW_SECONDS',
  'READ_CACHE_TTL_SECONDS',
  'REPLICA_TIMEOUT_MS',
  'UPLOAD_TTL_SECONDS',
  'UPLOAD_MAX_BYTES',
  'UPLOAD_MAX_PIECE_BYTES',
  'UPLOAD_MAX_ROWS',
  'UPLOAD_QUOTA_BYTES',
] as const;

/** Where the generated bootstrap admin key is kept when neither the environment nor `.dev.vars` sets one. */
const ADMIN_KEY_FILE = `${DATA_DIR}/admin-api-key`;

/** The dev stack's admin key: kept across restarts, made once from 256 random bits. */
function generatedAdminKey(): string {
  if (existsSync(ADMIN_KEY_FILE)) return readFileSync(ADMIN_KEY_FILE, 'utf8').trim();
  const key = `dev-admin-${randomBytes(32).toString('hex')}`;
  writePrivate(ADMIN_KEY_FILE, `${key}\n`);
  return key;
}

/** Writes `contents` to `path` readable by this user only (a file left with wider rights is replaced). */
function writePrivate(path: string, contents: string): void {
  rmSync(path, { force: true });
  writeFileSync(path, contents, { mode: 0o600, flag: 'wx' });
}

/**
 * One `NAME='value'` line, quoted so that wrangler's dotenv reads the value back unchanged:
 * quotes keep `#` and spaces, `\$` stops dotenv-expand from expanding `$NAME`.
 */
function envLine(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`${name}: a binding with a line break cannot go through an env file`);
  const quote = ["'", '"', '`'].find((q) => !value.includes(q));
  if (!quote) throw new Error(`${name}: a binding holding all three quote characters cannot go through an env file`);
  return `${name}=${quote}${value.replaceAll('$', '\\$')}${quote}`;
}

mkdirSync(DATA_DIR, { recursive: true, mode: 0o700 });
const standinOptions = standinOptionsFromEnv({ pgliteDir: `${DATA_DIR}/pglite`, neonPort: 4444, upstashPort: 8079 });
const standins = await startStandins(standinOptions);
const database = { databaseUrl: standins.bindings.DATABASE_URL, fetchEndpoint: standins.bindings.NEON_FETCH_ENDPOINT };
const applied = await migrate(database);
// A brand-new database gets the demo data; an existing one is left as it is.
const seeded = applied > 0 ? await seed(database) : 0;
console.log(`[dev] stand-ins on ${standins.engines}; ${applied} migration(s) applied${seeded ? `, ${seeded} demo trainers added` : ''}`);
console.log(`[dev]   Neon SQL over HTTP  ${standins.bindings.NEON_FETCH_ENDPOINT}`);
console.log(`[dev]   Upstash REST        ${standins.bindings.UPSTASH_REDIS_REST_URL}`);
if (standinOptions.neonDelayMs || standinOptions.upstashDelayMs) {
  console.log(`[dev]   simulated distance  Neon +${standinOptions.neonDelayMs} ms, Upstash +${standinOptions.upstashDelayMs} ms per request`);
}
if (standins.bindings.DATABASE_REPLICA_URL) console.log(`[dev]   read replicas       ${standins.bindings.DATABASE_REPLICA_URL.split(',').length}`);

const devVarsPath = `${ROOT}.dev.vars`;
const bindings: Record<string, string> = {
  ...(existsSync(devVarsPath) ? parseEnv(readFileSync(devVarsPath, 'utf8')) : {}),
  ...Object.fromEntries(WORKER_BINDINGS_FROM_ENV.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]]))),
  ...standins.bindings,
};
const adminKeyFrom = bindings.ADMIN_API_KEY === undefined ? ADMIN_KEY_FILE.slice(ROOT.length) : 'your environment or .dev.vars';
bindings.ADMIN_API_KEY ??= generatedAdminKey();
writePrivate(ENV_FILE, `${Object.entries(bindings).map(([name, value]) => envLine(name, value)).join('\n')}\n`);
writePrivate(DEV_STANDINS_FILE, `${JSON.stringify(standins.bindings, null, 2)}\n`);
function removeFiles(): void {
  rmSync(ENV_FILE, { force: true });
  rmSync(DEV_STANDINS_FILE, { force: true });
}
process.once('exit', removeFiles);

// INSPECTOR_PORT: where wrangler serves the Worker's DevTools protocol (benchmarks read the isolate's heap there).
const inspector = process.env.INSPECTOR_PORT ? ['--inspector-port', process.env.INSPECTOR_PORT] : [];
const wrangler = spawn('npx', ['wrangler', 'dev', '--port', String(port), '--ip', '127.0.0.1', '--env-file', ENV_FILE, ...inspector], {
  cwd: ROOT,
  stdio: 'inherit',
  // Its own process group, so stopping it also stops workerd.
  detached: true,
  env: {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    // The env file is the whole truth: no process.env on top of it (DATABASE_URL here is the real server, not the Worker's).
    CLOUDFLARE_INCLUDE_PROCESS_ENV: 'false',
    CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: 'true',
  },
});
console.log(`[dev] API on http://127.0.0.1:${port} (docs: /docs)`);
console.log(`[dev] admin API key (from ${adminKeyFrom}): ${bindings.ADMIN_API_KEY}`);

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
  removeFiles();
  await standins.close();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
wrangler.on('exit', (code) => void stop(code ?? 0));
