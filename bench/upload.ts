/**
 * `npm run bench:upload`: a deterministic Pokémon CSV (BENCH_ROWS rows, default 100,000, owned
 * by 1,000 trainers) uploaded as a resumable upload in pieces of BENCH_PIECE_MIB (default 16 MiB,
 * cut wherever the byte count falls) and committed, through `wrangler dev` on the stand-ins over
 * the real PostgreSQL and Redis, against the floor: `psql \copy` of the same rows into a table of
 * the same shape, in the same run. Prints stage, commit and total time, rows/s, the subrequests
 * the requests made (from `Server-Timing`), the Worker isolate's V8 heap (used, peak, sampled
 * over the DevTools protocol every 20 ms), workerd's CPU time and peak RSS; the last line is the ratio.
 *
 * BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server (a
 * scratch database is created and dropped); BENCH_REDIS_URL (default redis://127.0.0.1:6379/0);
 * BENCH_PORT and BENCH_INSPECTOR_PORT (default free ones); BENCH_VERBOSE=1 shows wrangler's output;
 * BENCH_LIVE_HEAP_SECONDS=N also takes a heap snapshot every N s for the live heap (times then not comparable);
 * BENCH_HEAP_SNAPSHOT_DIR=dir also writes each of them there (`<ms>-<used MiB>.heapsnapshot`, for DevTools).
 * BENCH_HEAP_CAP_MIB=N runs the Worker with V8's old generation capped at N MiB
 * (`--max-old-space-size`, through miniflare's MINIFLARE_WORKERD_V8_FLAGS): V8 collects garbage
 * as it nears the cap and aborts workerd past it, so a run that completes held less than N MiB live.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import pg from 'pg';
import { createScratchDatabase } from '../local/scratch-database.ts';
import { descendants, processCpuSeconds } from './support/cpu.ts';
import { authorization, freePort, ROOT, startDevServer } from './support/processes.ts';

const serverUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const rowCount = Number(process.env.BENCH_ROWS ?? 100_000);
const pieceBytes = Number(process.env.BENCH_PIECE_MIB ?? 16) * 1024 * 1024;
const liveEverySeconds = process.env.BENCH_LIVE_HEAP_SECONDS ? Number(process.env.BENCH_LIVE_HEAP_SECONDS) : undefined;
const snapshotDir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
const heapCapMiB = process.env.BENCH_HEAP_CAP_MIB ? Number(process.env.BENCH_HEAP_CAP_MIB) : undefined;
const TRAINERS = 1_000;
const SPECIES = ['Pikachu', 'Bulbasaur', 'Charmander', 'Squirtle', 'Mr. Mime', 'Eevee', 'Snorlax', 'Gengar', 'Jigglypuff', 'Meowth'];
const SPECIES_NUMBERS = [25, 1, 4, 7, 122, 133, 143, 94, 39, 52];

/** The i-th row's fields, deterministic: [id, nickname, species index, level, owner, day, month]. */
function row(i: number) {
  return { id: `pk-${i}`, nickname: `Nick ${i % 977}`, species: i % SPECIES.length, level: (i % 100) + 1, owner: `trainer-${i % TRAINERS}`, day: (i % 28) + 1, month: (i % 12) + 1 };
}
const pad = (n: number) => String(n).padStart(2, '0');

function uploadCsv(): string {
  const lines = ['id,nickname,species,level,owner,dateOfOwnership'];
  for (let i = 0; i < rowCount; i++) {
    const r = row(i);
    lines.push(`${r.id},${r.nickname},${SPECIES[r.species]},${r.level},${r.owner},${pad(r.day)}-${pad(r.month)}-2020`);
  }
  return lines.join('\r\n');
}

/** The same rows in the table's own form, for COPY. */
function copyCsv(): string {
  const lines: string[] = [];
  for (let i = 0; i < rowCount; i++) {
    const r = row(i);
    lines.push(`${r.id},${r.nickname},${SPECIES_NUMBERS[r.species]},${r.level},${r.owner},2020-${pad(r.month)}-${pad(r.day)}`);
  }
  return lines.join('\n') + '\n';
}

/** The workerd process that runs the Worker: wrangler dev starts two, and this is the larger. */
function workerdPid(devPid: number): number {
  const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const candidates = descendants(devPid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'workerd';
    } catch {
      return false;
    }
  });
  if (candidates.length === 0) throw new Error('workerd not found');
  return candidates.sort((a, b) => rss(b) - rss(a))[0]!;
}

/** Resident set size now and its peak since the last {@link resetPeak}, in MiB (VmRSS, VmHWM). */
function memory(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]) / 1024;
  return { now: mib('VmRSS'), peak: mib('VmHWM') };
}

/** Starts a new peak measurement (Linux: `5` in clear_refs resets VmHWM). */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** Subrequests a response reports in `Server-Timing`, and the milliseconds they took. */
function subrequests(response: Response): { db: number; redis: number; dbMs: number; redisMs: number } {
  const header = response.headers.get('Server-Timing') ?? '';
  const count = (name: string) => Number(new RegExp(`${name};count=(\\d+)`).exec(header)?.[1] ?? NaN);
  const ms = (name: string) => Number(new RegExp(`${name};count=\\d+;dur=([\\d.]+)`).exec(header)?.[1] ?? NaN);
  return { db: count('db'), redis: count('redis'), dbMs: ms('db'), redisMs: ms('redis') };
}

/** The live heap one snapshot found: what `Runtime.getHeapUsage` reads right after it, and its nodes' self sizes summed, in MiB. */
interface LiveHeap {
  afterGc: number;
  snapshotNodes: number;
}

/** Sums a V8 heap snapshot's `self_size` over its nodes, in MiB. */
function snapshotSelfSizes(text: string): number {
  const snapshot = JSON.parse(text) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[] };
  const fields = snapshot.snapshot.meta.node_fields;
  const at = fields.indexOf('self_size');
  let sum = 0;
  for (let i = at; i < snapshot.nodes.length; i += fields.length) sum += snapshot.nodes[i]!;
  return sum / 2 ** 20;
}

/**
 * Samples the Worker isolate's V8 heap (`Runtime.getHeapUsage` over wrangler's DevTools
 * endpoint) until stopped: the heap the 128 MB isolate limit is about, not workerd's RSS. With
 * `liveEverySeconds`, it also takes a heap snapshot that often: V8 collects all garbage before
 * a snapshot (workerd does not answer `HeapProfiler.collectGarbage`), so the used heap read
 * right after it, and the snapshot's own size, are the live set at that moment.
 */
async function heapSampler(inspectorPort: number, liveEverySeconds?: number) {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { webSocketDebuggerUrl: string }[];
  // wrangler's DevTools proxy refuses a connection without an Origin it knows (its own address is one).
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl, { headers: { Origin: `http://127.0.0.1:${inspectorPort}` } } as never);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const waiting = new Map<number, (message: { result?: any; error?: { message: string } }) => void>();
  let snapshotChunks: string[] = [];
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data));
    if (message.method === 'HeapProfiler.addHeapSnapshotChunk') snapshotChunks.push(message.params.chunk);
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  };
  const send = (method: string, params: object = {}) =>
    new Promise<any>((resolve, reject) => {
      waiting.set(++id, (message) => (message.error ? reject(new Error(`${method}: ${message.error.message}`)) : resolve(message.result)));
      socket.send(JSON.stringify({ id, method, params }));
    });
  // V8's heap plus the ArrayBuffers' backing stores outside it: both count against the isolate's 128 MB.
  const usedMiB = async () => {
    const usage = (await send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize: number };
    return (usage.usedSize + usage.backingStorageSize) / 2 ** 20;
  };
  const liveHeap = async (): Promise<LiveHeap> => {
    snapshotChunks = [];
    await send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    const afterGc = await usedMiB();
    if (snapshotDir) {
      mkdirSync(snapshotDir, { recursive: true });
      writeFileSync(`${snapshotDir}/${Date.now()}-${Math.round(afterGc)}.heapsnapshot`, snapshotChunks.join(''));
    }
    return { afterGc, snapshotNodes: snapshotSelfSizes(snapshotChunks.join('')) };
  };
  const baseline = await usedMiB();
  const baselineLive = liveEverySeconds ? await liveHeap() : undefined;
  let peak = baseline;
  let live: LiveHeap[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await usedMiB());
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const liveLoop = (async () => {
    if (!liveEverySeconds) return;
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, liveEverySeconds * 1000));
      if (running) live.push(await liveHeap());
    }
  })();
  /** The largest live heap of `seen` snapshots. */
  const largest = (seen: LiveHeap[]) => ({
    count: seen.length,
    afterGc: Math.max(0, ...seen.map((heap) => heap.afterGc)),
    snapshotNodes: Math.max(0, ...seen.map((heap) => heap.snapshotNodes)),
  });
  return {
    baseline,
    baselineLive,
    /** The peak (and largest live heap) since the last mark, and a new one from now. */
    mark() {
      const seen = { peak, live: largest(live) };
      peak = 0;
      live = [];
      return seen;
    },
    async stop() {
      running = false;
      await Promise.all([loop, liveLoop]);
      socket.close();
      return { peak, live: largest(live) };
    },
  };
}

/** Sends `body` as a resumable upload in pieces of {@link pieceBytes}; returns the last answer and every answer's subrequests. */
async function uploadInPieces(base: string, headers: Record<string, string>, body: Uint8Array) {
  const trips = { db: 0, redis: 0, dbMs: 0, redisMs: 0, requests: 0 };
  const count = (response: Response) => {
    const { db, redis, dbMs, redisMs } = subrequests(response);
    trips.db += db;
    trips.redis += redis;
    trips.dbMs += dbMs;
    trips.redisMs += redisMs;
    trips.requests += 1;
  };
  const first = body.subarray(0, Math.min(pieceBytes, body.length));
  const last = first.length === body.length;
  const created = await fetch(`${base}/uploads?type=pokemon`, {
    method: 'POST',
    body: first,
    headers: { ...headers, 'Content-Type': 'text/csv', 'Upload-Complete': last ? '?1' : '?0' },
  });
  count(created);
  if (last) return { response: created, trips };
  if (created.status !== 201) throw new Error(`creation failed: ${await created.text()}`);
  const location = created.headers.get('Location')!;
  await created.body?.cancel();
  for (let offset = first.length; ; ) {
    const end = Math.min(offset + pieceBytes, body.length);
    const complete = end === body.length;
    const response = await fetch(`${base}${location}`, {
      method: 'PATCH',
      body: body.subarray(offset, end),
      headers: { ...headers, 'Content-Type': 'application/partial-upload', 'Upload-Offset': String(offset), 'Upload-Complete': complete ? '?1' : '?0' },
    });
    count(response);
    if (complete) return { response, trips };
    if (response.status !== 204) throw new Error(`append at ${offset} failed: ${await response.text()}`);
    offset = Number(response.headers.get('Upload-Offset'));
  }
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, (performance.now() - start) / 1000];
}

/** What a failure means when the heap is capped: workerd aborts (wrangler prints "signal #6") and the request's connection is lost. */
const capHint = () => (heapCapMiB ? ` (with BENCH_HEAP_CAP_MIB=${heapCapMiB}: a lost connection is workerd aborting, its live heap past the cap)` : '');

const scratch = await createScratchDatabase(serverUrl, 'bench_upload');
const databaseUrl = scratch.url;
const inspectorPort = Number(process.env.BENCH_INSPECTOR_PORT ?? (await freePort()));
const dev = await startDevServer({
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl,
  INSPECTOR_PORT: String(inspectorPort),
  // On a busy machine an 8 MiB round trip can outlast the default 5 s, and a heap snapshot pauses
  // the isolate for seconds: the bench measures throughput, so no round trip times out.
  DEPENDENCY_TIMEOUT_MS: '120000',
  ...(heapCapMiB ? { MINIFLARE_WORKERD_V8_FLAGS: `--max-old-space-size=${heapCapMiB}` } : {}),
  ...(process.env.BENCH_PORT ? { PORT: process.env.BENCH_PORT } : {}),
});
const base = dev.url;

try {
  const trainersCsv = ['id,firstName,lastName,dateOfBirth', ...Array.from({ length: TRAINERS }, (_, i) => `trainer-${i},Ash${i},Ketchum,2000-01-01`)].join('\n');
  const setup = await fetch(`${base}/uploads?type=trainer&commit=true`, { method: 'POST', body: trainersCsv, headers: { 'Content-Type': 'text/csv', ...authorization(dev) } });
  if (setup.status !== 201) throw new Error(`trainer setup failed: ${await setup.text()}`);

  const csv = uploadCsv();
  const bytes = new TextEncoder().encode(csv);
  const workerd = workerdPid(dev.pid);
  resetPeak(workerd);
  const before = memory(workerd);
  const heap = await heapSampler(inspectorPort, liveEverySeconds);
  const cpuBefore = processCpuSeconds(workerd);
  const [{ response: staged, trips: up }, stageSeconds] = await timed(() => uploadInPieces(base, authorization(dev), bytes));
  if (staged.status !== 201) throw new Error(`stage failed: ${await staged.text()}${capHint()}`);
  const { id } = (await staged.json()) as { id: string };
  const stageHeap = heap.mark();
  const cpuStaged = processCpuSeconds(workerd);
  const commitStart = Date.now();
  const [committed, commitSeconds] = await timed(() => fetch(`${base}/uploads/${id}/commit`, { method: 'POST', headers: authorization(dev) }));
  if (committed.status !== 200) throw new Error(`commit failed: ${await committed.text()}${capHint()}`);
  // committedAt is the commit statement's transaction start (now()): before it, the parts were being sent.
  const { committedAt } = (await committed.json()) as { committedAt: string };
  const partsSeconds = (Date.parse(committedAt) - commitStart) / 1000;
  const cpuCommitted = processCpuSeconds(workerd);
  const commitHeap = await heap.stop();
  const after = memory(workerd);
  const total = stageSeconds + commitSeconds;
  const down = subrequests(committed);

  // The floor: the same rows, already in table form, through psql's \copy (psql start-up included).
  const folder = `${ROOT}bench/.out`;
  mkdirSync(folder, { recursive: true });
  writeFileSync(`${folder}/copy.csv`, copyCsv());
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  // Same shape as pokemon: its columns, checks, indexes and both foreign keys.
  await db.query('CREATE TABLE copy_floor (LIKE pokemon INCLUDING ALL)');
  await db.query('ALTER TABLE copy_floor ADD FOREIGN KEY (species_number) REFERENCES species, ADD FOREIGN KEY (owner_id) REFERENCES trainers');
  await db.end();
  const [, copySeconds] = await timed(async () => {
    execFileSync('psql', [databaseUrl, '-q', '-c', `\\copy copy_floor (id, nickname, species_number, level, owner_id, date_of_ownership) FROM '${folder}/copy.csv' WITH (FORMAT csv)`]);
  });

  const cpu = (seconds: number) => `workerd CPU ${Math.round(seconds * 1000).toLocaleString('en')} ms`;
  console.log(`${rowCount.toLocaleString('en')} Pokémon rows (${(csv.length / 1e6).toFixed(1)} MB CSV), ${TRAINERS} trainers; wrangler dev + stand-ins on PostgreSQL and Redis`);
  const waited = (trips: { dbMs: number; redisMs: number }) => `(waiting on db ${(trips.dbMs / 1000).toFixed(2)} s, redis ${(trips.redisMs / 1000).toFixed(2)} s)`;
  console.log(`stage   ${stageSeconds.toFixed(2)} s   ${up.requests} request(s) of ≤ ${pieceBytes / 2 ** 20} MiB   subrequests db=${up.db} redis=${up.redis} ${waited(up)}   ${cpu(cpuStaged - cpuBefore)}`);
  console.log(`commit  ${commitSeconds.toFixed(2)} s   subrequests db=${down.db} redis=${down.redis} ${waited(down)}   ${cpu(cpuCommitted - cpuStaged)}`);
  console.log(`        of which ${partsSeconds.toFixed(2)} s before the commit statement began (reading the staged rows from Redis; past 8 MiB, sending them in parts), ${(commitSeconds - partsSeconds).toFixed(2)} s from then on`);
  console.log(`total   ${total.toFixed(2)} s   ${Math.round(rowCount / total).toLocaleString('en')} rows/s   subrequests ${up.db + up.redis + down.db + down.redis}`);
  console.log(
    `isolate heap: ${heap.baseline.toFixed(1)} MiB before; peak ${stageHeap.peak.toFixed(1)} MiB staging, ${commitHeap.peak.toFixed(1)} MiB committing ` +
      '(V8 used, garbage included, + backing stores; sampled every 20 ms)',
  );
  if (heap.baselineLive) {
    const live = (heap: LiveHeap) => `${heap.afterGc.toFixed(1)} MiB (snapshot nodes ${heap.snapshotNodes.toFixed(1)} MiB)`;
    console.log(
      `isolate live heap (a heap snapshot every ${liveEverySeconds} s, each after V8's full GC; used + backing stores right after it): ` +
        `${live(heap.baselineLive)} before; largest ${live(stageHeap.live)} of ${stageHeap.live.count} staging, ` +
        `${live(commitHeap.live)} of ${commitHeap.live.count} committing — snapshots pause the isolate: times above are not comparable`,
    );
  }
  console.log(`workerd CPU ${(cpuCommitted - cpuBefore).toFixed(2)} s during upload+commit (the whole process: isolate, GC, I/O)`);
  console.log(`workerd RSS: ${before.now.toFixed(0)} MiB before, peak ${after.peak.toFixed(0)} MiB during (+${(after.peak - before.now).toFixed(0)} MiB)`);
  if (heapCapMiB) console.log(`isolate heap cap: V8 old generation capped at ${heapCapMiB} MiB (--max-old-space-size): never exceeded`);
  console.log(`COPY    ${copySeconds.toFixed(2)} s   (psql \\copy, start-up included)`);
  console.log(`upload+commit/COPY = ${(total / copySeconds).toFixed(2)}`);
} finally {
  await dev.stop();
  await scratch.drop();
}
