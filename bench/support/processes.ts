/**
 * Starts parts of the local stack in their own processes, as `npm run dev` does, so a
 * benchmark's client never shares an event loop with the servers it measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface StandinProcess {
  engines: string;
  bindings: Record<string, string>;
  stop(): Promise<void>;
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || !child.pid) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      resolve();
    }
  });
}

/** Runs `node local/standins.ts` with `env` (DATABASE_URL / REDIS_URL pick the real servers). */
export async function startStandinProcess(env: Record<string, string>): Promise<StandinProcess> {
  const child = spawn(process.execPath, ['local/standins.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const firstLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`stand-ins exited with ${code}`)));
  });
  const { engines, ...bindings } = JSON.parse(firstLine) as Record<string, string>;
  return { engines: engines!, bindings, stop: () => stopProcess(child) };
}
