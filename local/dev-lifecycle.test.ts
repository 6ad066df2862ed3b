/**
 * `npm run test:lifecycle`: the dev stack (`npm run dev`) starts, answers, and stops whole.
 *
 * Each case starts `npm run dev` in its own process group (as a terminal runs a job) on free
 * ports, on the embedded engines, waits for /health, notes every process of the stack, stops it
 * one way, and checks that within a few seconds no process of it is left and no port is bound.
 * The first case also sends chunked JSON bodies over 64 KiB through `wrangler dev`'s proxy,
 * which must all get their 413, and checks that no secret is on any command line of the stack.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { descendants } from '../bench/support/cpu.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pgliteDir = mkdtempSync(`${tmpdir()}/dev-lifecycle-`);
after(() => rmSync(pgliteDir, { recursive: true, force: true }));

/** How long the stack may take to be gone after a stop. */
const STOP_WITHIN_MS = 8_000;

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
const close = (server: Server) => new Promise((resolve) => server.close(resolve));

async function freePort(): Promise<number> {
  const server = await listen(0);
  const { port } = server.address() as { port: number };
  await close(server);
  return port;
}

async function isFree(port: number): Promise<boolean> {
  try {
    await close(await listen(port));
    return true;
  } catch {
    return false;
  }
}

/** True while `pid` is a live process (a zombie waiting to be reaped is not). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0] !== 'Z';
  } catch {
    return false;
  }
}
const commandLine = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
};

interface Stack {
  npm: ChildProcess;
  ports: { PORT: number; NEON_HTTP_PORT: number; UPSTASH_PORT: number };
  output: () => string;
}

async function startDev(ports?: Partial<Stack['ports']>): Promise<Stack> {
  const all = { PORT: await freePort(), NEON_HTTP_PORT: await freePort(), UPSTASH_PORT: await freePort(), ...ports };
  const env: NodeJS.ProcessEnv = { ...process.env, ...Object.fromEntries(Object.entries(all).map(([k, v]) => [k, String(v)])), PGLITE_DIR: pgliteDir };
  // The embedded engines, whatever this shell points at.
  for (const name of ['DATABASE_URL', 'DATABASE_REPLICA_URL', 'REDIS_URL']) delete env[name];
  const npm = spawn('npm', ['run', 'dev'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  npm.stdout!.on('data', (chunk) => (output += chunk));
  npm.stderr!.on('data', (chunk) => (output += chunk));
  return { npm, ports: all, output: () => output };
}

async function waitForHealth(stack: Stack): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${stack.ports.PORT}/health`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (stack.npm.exitCode !== null || Date.now() > deadline) assert.fail(`the dev stack never answered /health 200:\n${stack.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Posts `count` chunked JSON bodies of `mebibytes` MiB each; the statuses (or client errors) seen. */
async function postOversizedBodies(port: number, adminKey: string, count: number, mebibytes: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  const piece = new TextEncoder().encode('x'.repeat(64 * 1024));
  for (let i = 0; i < count; i++) {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(new TextEncoder().encode('{"id":"')),
      pull(controller) {
        if (sent++ < mebibytes * 16) return controller.enqueue(piece);
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
      },
    });
    const outcome = await fetch(`http://127.0.0.1:${port}/trainers`, {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminKey}` },
    } as RequestInit).then(
      async (response) => `${response.status} ${((await response.json().catch(() => ({}))) as { type?: string }).type ?? response.headers.get('Content-Type')}`,
      (error: Error) => `error ${(error.cause as { code?: string } | undefined)?.code ?? error.message}`,
    );
    seen[outcome] = (seen[outcome] ?? 0) + 1;
  }
  return seen;
}

type Stop = (stack: Stack, devPid: number) => void;

const stops: [string, Stop][] = [
  ['Ctrl-C (SIGINT to the process group)', ({ npm }) => process.kill(-npm.pid!, 'SIGINT')],
  ['SIGTERM to npm', ({ npm }) => process.kill(npm.pid!, 'SIGTERM')],
  ['SIGTERM to local/dev.ts', (_, devPid) => process.kill(devPid, 'SIGTERM')],
  ['SIGKILL of local/dev.ts', (_, devPid) => process.kill(devPid, 'SIGKILL')],
  ['the terminal closing (SIGHUP to the process group)', ({ npm }) => process.kill(-npm.pid!, 'SIGHUP')],
];

describe('npm run dev', () => {
  stops.forEach(([how, stop], index) => {
    it(`stops whole on ${how}`, { timeout: 180_000 }, async () => {
      const stack = await startDev();
      const tree = () => [stack.npm.pid!, ...descendants(stack.npm.pid!)];
      let pids: number[] = [];
      try {
        await waitForHealth(stack);
        if (index === 0) {
          const adminKey = readFileSync(`${ROOT}.data/admin-api-key`, 'utf8').trim();
          const seen = await postOversizedBodies(stack.ports.PORT, adminKey, 60, 2);
          assert.deepEqual(seen, { '413 /problems/payload-too-large': 60 });
        }
        pids = tree();
        if (index === 0) {
          // Secrets travel in 0600 files, never on a command line (readable by anyone in /proc).
          const { UPSTASH_REDIS_REST_TOKEN: token } = JSON.parse(readFileSync(`${ROOT}.data/standins.json`, 'utf8')) as Record<string, string>;
          const adminKey = readFileSync(`${ROOT}.data/admin-api-key`, 'utf8').trim();
          assert.deepEqual(pids.filter((pid) => commandLine(pid).includes(token!) || commandLine(pid).includes(adminKey)), [], 'a secret on a command line');
          assert.equal(statSync(`${ROOT}.data/wrangler-dev.env`).mode & 0o777, 0o600);
        }
        const devPid = pids.find((pid) => commandLine(pid).includes('local/dev.ts'));
        assert.ok(devPid, 'no local/dev.ts process');
        assert.ok(pids.some((pid) => commandLine(pid).includes('workerd')), 'no workerd process');
        stop(stack, devPid);
        const deadline = Date.now() + STOP_WITHIN_MS;
        while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(pids.filter(alive).map((pid) => `${pid} ${commandLine(pid).slice(0, 120)}`), [], 'processes left running');
        for (const [variable, port] of Object.entries(stack.ports)) assert.ok(await isFree(port), `${variable} ${port} still bound`);
        for (const file of ['wrangler-dev.env', 'standins.json']) assert.ok(!existsSync(`${ROOT}.data/${file}`), `.data/${file} left behind`);
      } finally {
        for (const pid of [...pids, ...tree()]) if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
    });
  });

  it('fails fast with one line naming a busy port and PORT', { timeout: 60_000 }, async () => {
    const holder = await listen(await freePort());
    const port = (holder.address() as { port: number }).port;
    try {
      const stack = await startDev({ PORT: port });
      const code = await new Promise((resolve) => stack.npm.once('exit', resolve));
      assert.notEqual(code, 0);
      const lines = stack.output().split('\n').filter((line) => line.includes(String(port)));
      assert.deepEqual(lines, [`[dev] port ${port} is already in use: stop what listens there, or set PORT to another port`]);
      assert.doesNotMatch(stack.output(), /^\s+at /m, 'a stack trace');
    } finally {
      await close(holder);
    }
  });
});
