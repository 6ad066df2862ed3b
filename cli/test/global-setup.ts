/**
 * Starts `npm run dev` (local/dev.ts) on the embedded engines with a fresh PGlite directory and
 * a known admin key, waits until it answers, and stops it (and its wrangler) afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_URL, STACK } from './stack.ts';

let dev: ChildProcess | undefined;
let pgliteDir: string | undefined;
let output = '';

async function healthy(): Promise<boolean> {
  try {
    return (await fetch(`${API_URL}/health`)).ok;
  } catch {
    return false;
  }
}

export async function setup(): Promise<void> {
  if (await healthy()) throw new Error(`something already listens on ${API_URL}: the CLI tests need that port`);
  pgliteDir = mkdtempSync(join(tmpdir(), 'cli-test-pglite-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(STACK.apiPort),
    NEON_HTTP_PORT: String(STACK.neonPort),
    UPSTASH_PORT: String(STACK.upstashPort),
    PGLITE_DIR: pgliteDir,
    ADMIN_API_KEY: STACK.adminKey,
  };
  // The embedded engines, whatever the machine's environment names.
  for (const name of ['DATABASE_URL', 'DATABASE_REPLICA_URL', 'REDIS_URL']) delete env[name];
  dev = spawn(process.execPath, ['local/dev.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  dev.stdout!.on('data', (chunk) => (output += chunk));
  dev.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 110_000;
  while (!(await healthy())) {
    if (dev.exitCode !== null || Date.now() > deadline) {
      await teardown();
      throw new Error(`npm run dev did not come up on ${API_URL}:\n${output.slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function teardown(): Promise<void> {
  if (dev && dev.exitCode === null) {
    const exited = once(dev, 'exit');
    // dev.ts stops wrangler's process group and the stand-ins on SIGTERM.
    dev.kill('SIGTERM');
    await exited;
  }
  if (pgliteDir) rmSync(pgliteDir, { recursive: true, force: true });
}
