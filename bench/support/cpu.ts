/**
 * CPU time of processes and their descendants, from /proc (Linux), so a benchmark can say
 * where the machine's cores went during a case.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** The parent → children map of every process, read now. */
export function processTree(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** Every descendant process id of `pid`. */
export function descendants(pid: number, tree = processTree()): number[] {
  const found: number[] = [];
  const walk = (p: number) => (tree.get(p) ?? []).forEach((child) => (found.push(child), walk(child)));
  walk(pid);
  return found;
}

/** utime, stime, cutime, cstime of `pid` in seconds; zeros when it is gone. */
function times(pid: number): [number, number, number, number] {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    // After the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    return [11, 12, 13, 14].map((i) => Number(fields[i]) / TICKS_PER_SECOND) as [number, number, number, number];
  } catch {
    return [0, 0, 0, 0];
  }
}

/** CPU seconds (user + system) of `pid` itself. */
export function processCpuSeconds(pid: number): number {
  const [user, system] = times(pid);
  return user + system;
}

/** CPU seconds of every process in `pids` and below, including children they have reaped. */
export function treeCpuSeconds(pids: number[], tree = processTree()): number {
  let sum = 0;
  for (const p of pids.flatMap((pid) => [pid, ...descendants(pid, tree)])) {
    const [user, system, childUser, childSystem] = times(p);
    sum += user + system + childUser + childSystem;
  }
  return sum;
}
