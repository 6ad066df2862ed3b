/**
 * Read replicas (runs only with TEST_REPLICA_CLUSTER=1: a private PostgreSQL primary and a
 * streaming replica that applies WAL `replicaDelayMs` late, served by the Neon stand-in):
 * what the replica binding reaches, then the API's session consistency with real lag.
 */
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { call, callWithBindings, roundTrips } from './support/api.ts';
import { uniqueId } from './support/fixtures.ts';

const { DATABASE_URL, DATABASE_REPLICA_URL, NEON_FETCH_ENDPOINT } = inject('bindings');
const delayMs = inject('replicaDelayMs');
const primary = neon(DATABASE_URL);
const replica = neon(DATABASE_REPLICA_URL?.split(',')[0] ?? 'postgresql://missing:replica@localhost/none');

beforeAll(() => {
  neonConfig.fetchEndpoint = NEON_FETCH_ENDPOINT;
});

describe('the replica behind DATABASE_REPLICA_URL', () => {
  it('is a read-only standby: writes fail with 25006', async () => {
    expect(DATABASE_REPLICA_URL).toBeTruthy();
    expect(await replica`SELECT pg_is_in_recovery() AS standby`).toEqual([{ standby: true }]);
    const error = await replica`INSERT INTO trainers (id, first_name, last_name, date_of_birth) VALUES ('nope', 'No', 'Pe', '2000-01-01')`.catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NeonDbError);
    expect(error).toMatchObject({ code: '25006' });
  });

  it(`shows a row committed on the primary only once its apply delay has passed`, { timeout: delayMs + 30_000 }, async () => {
    expect(delayMs).toBeGreaterThan(0);
    const id = `replica_${crypto.randomUUID().slice(0, 8)}`;
    const before = Date.now();
    await primary`INSERT INTO trainers (id, first_name, last_name, date_of_birth) VALUES (${id}, 'Lag', 'Test', '2000-01-01')`;
    try {
      const visible = async () => (await replica`SELECT 1 FROM trainers WHERE id = ${id}`).length === 1;
      expect(await visible()).toBe(false);
      let seenAt: number | undefined;
      while (seenAt === undefined && Date.now() - before < delayMs + 20_000) {
        if (await visible()) seenAt = Date.now();
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(seenAt, 'the row never reached the replica').toBeDefined();
      expect(seenAt! - before).toBeGreaterThanOrEqual(delayMs);
    } finally {
      await primary`DELETE FROM trainers WHERE id = ${id}`;
    }
  });
});

/** Creates a trainer through the API (on the primary) and returns its id and the write's bookmark. */
async function createTrainerWithBookmark(firstName = 'Lag'): Promise<{ id: string; bookmark: string }> {
  const id = uniqueId('replica');
  const response = await call('/trainers', { method: 'POST', json: { id, firstName, lastName: 'Test', dateOfBirth: '2000-01-01' } });
  expect(response.status).toBe(201);
  expect(roundTrips(response)).toEqual({ db: 1, replica: 0, redis: 0 });
  const bookmark = response.headers.get('X-Bookmark');
  expect(bookmark).toMatch(/^[0-9a-f]{16}-\d+$/);
  return { id, bookmark: bookmark! };
}

function readTrainer(id: string, bookmark?: string): Promise<Response> {
  return call(`/trainers/${id}`, { headers: bookmark === undefined ? {} : { 'X-Bookmark': bookmark } });
}

/** Polls `probe` (bounded by the replica's delay plus a margin) until it returns true. */
async function eventually(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + delayMs + 15_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('reads through the API with a lagging replica', { timeout: delayMs + 30_000 }, () => {
  it('serves an unbookmarked read from the replica, which does not see a write made a moment ago', async () => {
    const { id } = await createTrainerWithBookmark();
    const stale = await readTrainer(id);
    expect(stale.status).toBe(404);
    expect(roundTrips(stale)).toEqual({ db: 0, replica: 1, redis: 0 });
  });

  it('answers a read carrying the write’s bookmark with the write, every time (read-your-writes)', async () => {
    const { id, bookmark } = await createTrainerWithBookmark();
    for (let i = 0; i < 5; i++) {
      const fresh = await readTrainer(id, bookmark);
      expect(fresh.status).toBe(200);
      // The replica was asked first, found itself behind, and the primary answered: one round trip each.
      expect(roundTrips(fresh)).toEqual({ db: 1, replica: 1, redis: 0 });
      // The answer's bookmark is at least as new as the one sent.
      expect(BigInt(`0x${fresh.headers.get('X-Bookmark')!.slice(0, 16)}`)).toBeGreaterThanOrEqual(BigInt(`0x${bookmark.slice(0, 16)}`));
    }
  });

  it('never reads an older state with a later bookmark (monotonic reads)', async () => {
    const { id, bookmark } = await createTrainerWithBookmark('First');
    const patched = await call(`/trainers/${id}`, { method: 'PATCH', json: { firstName: 'Second' }, headers: { 'X-Bookmark': bookmark } });
    expect(patched.status).toBe(200);
    let latest = patched.headers.get('X-Bookmark')!;
    for (let i = 0; i < 5; i++) {
      const read = await readTrainer(id, latest);
      expect(((await read.json()) as { firstName: string }).firstName).toBe('Second');
      latest = read.headers.get('X-Bookmark')!;
    }
  });

  it('serves reads from the replica once it has caught up, bookmarked or not', async () => {
    const { id, bookmark } = await createTrainerWithBookmark();
    await eventually(async () => (await readTrainer(id)).status === 200, 'the replica shows the new trainer');
    const unbookmarked = await readTrainer(id);
    expect(roundTrips(unbookmarked)).toEqual({ db: 0, replica: 1, redis: 0 });
    const bookmarked = await readTrainer(id, bookmark);
    expect(bookmarked.status).toBe(200);
    // The replica has replayed the writing transaction: it passes the freshness check itself.
    expect(roundTrips(bookmarked)).toEqual({ db: 0, replica: 1, redis: 0 });
  });

  it('reports the replica and its lag in /health', async () => {
    const response = await call('/health');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; checks: { replicas: Record<string, unknown>[] } };
    expect(body.status).toBe('ok');
    expect(body.checks.replicas).toEqual([
      { name: 'replica-1', status: 'ok', latencyMs: expect.any(Number), lagBytes: expect.any(Number), secondsSinceReplayedCommit: expect.any(Number) },
    ]);
  });

  it('with the read cache on, never answers from a lagging replica’s state: misses read the primary', async () => {
    const cacheOn = { READ_CACHE_TTL_SECONDS: '60' };
    const { id, bookmark } = await createTrainerWithBookmark();
    const unbookmarked = await callWithBindings(cacheOn, `/trainers/${id}`);
    expect(unbookmarked.status).toBe(200);
    expect(roundTrips(unbookmarked)).toMatchObject({ db: 1, replica: 0 });
    const bookmarked = await callWithBindings(cacheOn, `/trainers/${id}`, { headers: { 'X-Bookmark': bookmark } });
    expect(bookmarked.status).toBe(200);
    const patched = await callWithBindings(cacheOn, `/trainers/${id}`, { method: 'PATCH', json: { firstName: 'Fresh' } });
    expect(patched.status).toBe(200);
    expect(((await (await callWithBindings(cacheOn, `/trainers/${id}`)).json()) as { firstName: string }).firstName).toBe('Fresh');
    // The replica is still behind the PATCH: a read carrying its bookmark skips the cache and is never stale.
    const afterWrite = await callWithBindings(cacheOn, `/trainers/${id}`, { headers: { 'X-Bookmark': patched.headers.get('X-Bookmark')! } });
    expect(afterWrite.headers.get('Server-Timing')).toContain('cache;desc="bypass"');
    expect(((await afterWrite.json()) as { firstName: string }).firstName).toBe('Fresh');
  });

  // Last: it kills this run's private replica.
  it('keeps answering from the primary when the replica dies, and writes go on', async () => {
    const controlUrl = inject('controlUrl');
    expect(controlUrl).toBeDefined();
    const { id } = await createTrainerWithBookmark();
    expect((await fetch(`${controlUrl}/replica/stop`, { method: 'POST' })).status).toBe(200);
    const read = await readTrainer(id);
    expect(read.status).toBe(200);
    expect(roundTrips(read).db).toBe(1);
    // The isolate remembers the dead replica for a few seconds: the next reads go straight to the primary.
    const next = await call('/trainers?limit=1');
    expect(next.status).toBe(200);
    expect(roundTrips(next)).toEqual({ db: 1, replica: 0, redis: 0 });
    await createTrainerWithBookmark();
    const health = await call('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'degraded', checks: { replicas: [{ name: 'replica-1', status: 'unavailable' }] } });
  });
});
