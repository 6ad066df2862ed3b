/**
 * Stops wrangler's process group when `npm run dev` (local/dev.ts) ends, however it ends, and
 * removes the files that hold the dev stack's secrets.
 *
 * dev.ts starts this with a pipe on its standard input, the process group id of wrangler (and
 * workerd) and the files to remove as its arguments, and never writes to the pipe. The pipe reaches end of file
 * when dev.ts closes it to stop, and also when dev.ts dies without a chance to clean up
 * (SIGKILL): the kernel closes its end. Then this sends the group SIGTERM, and SIGKILL to
 * whatever is left after a grace period, and exits once the group is gone.
 */
import { rmSync } from 'node:fs';

const [groupArgument, ...files] = process.argv.slice(2);
const group = Number(groupArgument);
if (!Number.isInteger(group) || group <= 1) throw new Error('usage: dev-watchdog.ts <process group id> [file to remove]…');

/** How long wrangler and workerd get to stop on SIGTERM before SIGKILL. */
const GRACE_MS = 3_000;

/** Sends `signal` to the group; false once no process of it is left. */
function signalGroup(signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-group, signal);
    return true;
  } catch {
    return false;
  }
}

async function stopGroup(): Promise<never> {
  signalGroup('SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  while (signalGroup(0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  signalGroup('SIGKILL');
  for (const file of files) rmSync(file, { force: true });
  process.exit(0);
}

// Stopping is the pipe's business: a signal meant for the terminal's job does not end this early.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
process.stdin.on('close', () => void stopGroup());
process.stdin.on('end', () => void stopGroup());
process.stdin.resume();
