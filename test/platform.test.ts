import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { call, callWithBindings, DEAD_URL, expectProblem, roundTrips, HAS_REPLICA } from './support/api.ts';

describe('GET /health', () => {
  it('reports both dependencies with one round trip each', async () => {
    const response = await call('/health');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { checks: { replicas: unknown[] } };
    expect(body).toMatchObject({
      status: 'ok',
      checks: { database: { status: 'ok', latencyMs: expect.any(Number) }, redis: { status: 'ok', latencyMs: expect.any(Number) } },
    });
    expect(body.checks.replicas).toHaveLength(HAS_REPLICA ? 1 : 0);
    // The primary, Redis, and each replica pinned (a probe never falls back to the primary).
    expect(roundTrips(response)).toEqual({ db: 1, replica: HAS_REPLICA ? 1 : 0, redis: 1 });
  });

  it('answers 503 naming Redis when it is unreachable', async () => {
    const response = await callWithBindings({ UPSTASH_REDIS_REST_URL: DEAD_URL }, '/health');
    const problem = await expectProblem(response, 503);
    expect(problem.dependencies).toEqual(['redis']);
    expect(problem.checks.database.status).toBe('ok');
    expect(response.headers.get('Retry-After')).toBe('1');
  });

  it('answers 503 naming the database when Postgres is unreachable', async () => {
    const response = await callWithBindings({ NEON_FETCH_ENDPOINT: `${DEAD_URL}/sql` }, '/health');
    const problem = await expectProblem(response, 503);
    expect(problem.dependencies).toEqual(['database']);
  });

  it('gives up on a dependency that never answers within the timeout', async () => {
    // The black hole accepts connections and never answers: without a timeout this would hang.
    // DEPENDENCY_TIMEOUT_MS is 3000 for the rest of the suite; this request gets 300.
    const response = await callWithBindings(
      { UPSTASH_REDIS_REST_URL: inject('blackHoleUrl'), NEON_FETCH_ENDPOINT: `${inject('blackHoleUrl')}/sql`, DEPENDENCY_TIMEOUT_MS: '300' },
      '/health',
    );
    const problem = await expectProblem(response, 503);
    expect(problem.dependencies).toEqual(['database', 'redis']);
    // Each gave up because its timeout fired, not because the connection failed.
    expect(problem.checks.database).toMatchObject({ status: 'unavailable', error: 'did not answer in time' });
    expect(problem.checks.redis).toMatchObject({ status: 'unavailable', error: 'did not answer in time' });
    // Each waited one round trip of at least the 300 ms given, and was cut off long before the
    // suite's 3000 ms would have cut it (measured by the Worker, per round trip, not around the call).
    const timing = serverTiming(response);
    for (const name of ['db', 'redis'] as const) {
      expect(timing[name], name).toMatchObject({ count: 1 });
      expect(timing[name]!.dur, name).toBeGreaterThanOrEqual(300);
      expect(timing[name]!.dur, name).toBeLessThan(3_000);
    }
  });
});

/** `Server-Timing` entries by name: `db;count=1;dur=301.2` → `{ db: { count: 1, dur: 301.2 } }`. */
function serverTiming(response: Response): Record<string, { count?: number; dur?: number }> {
  const entries: Record<string, { count?: number; dur?: number }> = {};
  for (const part of (response.headers.get('Server-Timing') ?? '').split(',')) {
    const [name, ...params] = part.trim().split(';');
    const entry: { count?: number; dur?: number } = {};
    for (const param of params) {
      const [k, v] = param.split('=');
      if (k === 'count' || k === 'dur') entry[k] = Number(v);
    }
    entries[name!] = entry;
  }
  return entries;
}

describe('request metadata', () => {
  it('echoes a client request id and generates one otherwise', async () => {
    const echoed = await call('/health', { headers: { 'X-Request-Id': 'trace-abc-123' } });
    expect(echoed.headers.get('X-Request-Id')).toBe('trace-abc-123');
    const generated = await call('/health');
    expect(generated.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports round trips and total time in Server-Timing', async () => {
    const response = await call('/health');
    expect(response.headers.get('Server-Timing')).toMatch(/^db;count=1;dur=[\d.]+, replica;count=[01];dur=[\d.]+, redis;count=1;dur=[\d.]+, total;dur=[\d.]+$/);
  });
});

describe('errors', () => {
  it('answers an unknown route with a 404 problem', async () => {
    const response = await call('/no-such-thing');
    const problem = await expectProblem(response, 404);
    expect(problem.instance).toBe('/no-such-thing');
    expect(problem.requestId).toBe(response.headers.get('X-Request-Id'));
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const response = await call('/health', { method: 'DELETE' });
    await expectProblem(response, 405);
    expect(response.headers.get('Allow')).toBe('GET, HEAD');
  });
});

describe('problem types', () => {
  it('dereferences every problem type URI to its meaning', async () => {
    const problem = await expectProblem(await call('/nowhere'), 404);
    const response = await call(problem.type);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ type: '/problems/not-found', title: 'Not found', status: 404, description: expect.any(String) });
    await expectProblem(await call('/problems/no-such-type'), 404);
  });
});

describe('configuration', () => {
  it('answers 503 misconfigured naming a missing binding, and /health says so', async () => {
    const response = await callWithBindings({ UPSTASH_REDIS_REST_TOKEN: undefined }, '/health');
    const problem = await expectProblem(response, 503);
    expect(problem).toMatchObject({ type: '/problems/misconfigured', binding: 'UPSTASH_REDIS_REST_TOKEN' });
    expect(problem.detail).toContain('UPSTASH_REDIS_REST_TOKEN is not set');
    expect(response.headers.get('X-Request-Id')).toBe(problem.requestId);
  });

  it('answers 503 misconfigured naming a binding that does not parse', async () => {
    for (const [binding, value] of [
      ['DATABASE_URL', 'not a url'],
      ['UPSTASH_REDIS_REST_URL', 'ftp://example.com'],
      ['DEPENDENCY_TIMEOUT_MS', '5s'],
      ['UPLOAD_MAX_ROWS', '-1'],
      ['DATABASE_REPLICA_URL', 'postgresql://a:b@host/db, nonsense'],
    ] as const) {
      const problem = await expectProblem(await callWithBindings({ [binding]: value }, '/trainers'), 503);
      expect(problem.binding, binding).toBe(binding);
    }
  });
});

describe('read replicas', () => {
  it('sends every read to the primary when no replica is configured', async () => {
    const response = await callWithBindings({ DATABASE_REPLICA_URL: undefined }, '/trainers');
    expect(response.status).toBe(200);
    expect(roundTrips(response)).toEqual({ db: 1, replica: 0, redis: 0 });
  });

  it('stamps every answer that reached the database with an X-Bookmark', async () => {
    const read = await call('/species/pikachu');
    expect(read.headers.get('X-Bookmark')).toMatch(/^[0-9a-f]{16}$/);
    const written = await call('/trainers', { method: 'POST', json: { id: `bm-${crypto.randomUUID().slice(0, 8)}`, firstName: 'A', lastName: 'B', dateOfBirth: '2000-01-01' } });
    expect(written.status).toBe(201);
    // After a write: the WAL position and the writing transaction.
    expect(written.headers.get('X-Bookmark')).toMatch(/^[0-9a-f]{16}-\d+$/);
    const problem = await call('/problems/not-found');
    expect(problem.headers.get('X-Bookmark')).toBeNull();
  });

  it('never answers with a bookmark older than the one sent (health probes replicas without moving it)', async () => {
    const written = await call('/trainers', { method: 'POST', json: { id: `bm-${crypto.randomUUID().slice(0, 8)}`, firstName: 'A', lastName: 'B', dateOfBirth: '2000-01-01' } });
    const sent = written.headers.get('X-Bookmark')!;
    for (const path of ['/health', '/species/pikachu']) {
      const answered = (await call(path, { headers: { 'X-Bookmark': sent } })).headers.get('X-Bookmark')!;
      expect(BigInt(`0x${answered.slice(0, 16)}`), path).toBeGreaterThanOrEqual(BigInt(`0x${sent.slice(0, 16)}`));
    }
  });

  it('reads from the primary when the replica is behind the bookmark sent, and answers with that bookmark', async () => {
    // A WAL position no server of this run has reached.
    const ahead = '7fff000000000000';
    const read = await call('/species/pikachu', { headers: { 'X-Bookmark': ahead } });
    expect(read.status).toBe(200);
    // The replica's freshness check said no (its round trip), the primary answered.
    expect(roundTrips(read)).toEqual({ db: 1, replica: HAS_REPLICA ? 1 : 0, redis: 0 });
    expect(read.headers.get('X-Bookmark')).toBe(ahead);
  });

  it('answers 422 for a bookmark this API did not issue', async () => {
    for (const bookmark of ['nope', '0/16B3748', '00000000016b3748-', 'x'.repeat(300)]) {
      const problem = await expectProblem(await call('/trainers', { headers: { 'X-Bookmark': bookmark } }), 422);
      expect(problem.errors).toEqual([{ parameter: 'X-Bookmark', detail: expect.any(String) }]);
    }
  });

  it('serves a bookmarked read from a replica that has caught up', async () => {
    const written = await call('/trainers', { method: 'POST', json: { id: `bm-${crypto.randomUUID().slice(0, 8)}`, firstName: 'A', lastName: 'B', dateOfBirth: '2000-01-01' } });
    const bookmark = written.headers.get('X-Bookmark')!;
    const { id } = (await written.json()) as { id: string };
    const read = await call(`/trainers/${id}`, { headers: { 'X-Bookmark': bookmark } });
    expect(read.status).toBe(200);
    // This run's replica does not lag, so it passes the freshness check in the same round trip.
    expect(roundTrips(read)).toEqual({ db: 0, replica: 1, redis: 0 });
    expect(BigInt(`0x${read.headers.get('X-Bookmark')!.slice(0, 16)}`)).toBeGreaterThanOrEqual(BigInt(`0x${bookmark.slice(0, 16)}`));
  });
});

describe('a failing replica', () => {
  const { DATABASE_URL } = inject('bindings');
  /** The primary's connection string with one part changed: a replica the stand-in refuses. */
  const broken = (change: (url: URL) => void) => {
    const url = new URL(DATABASE_URL);
    change(url);
    // A distinct URL per case: the backoff is per replica URL (per isolate).
    url.searchParams.set('case', crypto.randomUUID().slice(0, 8));
    return url.toString();
  };
  const cases = {
    'refused credentials (400, no SQLSTATE)': broken((url) => (url.password = 'wrong')),
    'an unknown database (500, 3D000)': broken((url) => (url.pathname = '/no_such_database')),
  };

  for (const [what, replicaUrl] of Object.entries(cases)) {
    it(`sends reads to the primary on ${what}, then skips the replica for a while`, async () => {
      const bindings = { DATABASE_REPLICA_URL: replicaUrl, READ_CACHE_TTL_SECONDS: '0' };
      const first = await callWithBindings(bindings, '/species/pikachu');
      expect(first.status).toBe(200);
      expect(roundTrips(first)).toEqual({ db: 1, replica: 1, redis: 0 });
      const next = await callWithBindings(bindings, '/species/pikachu');
      expect(next.status).toBe(200);
      expect(roundTrips(next)).toEqual({ db: 1, replica: 0, redis: 0 });
    });
  }

  it('reports a refused replica in /health as degraded (200), each failure in its own words', async () => {
    const expected = {
      'refused credentials (400, no SQLSTATE)': 'answered with an error',
      'an unknown database (500, 3D000)': 'could not be reached',
    };
    for (const [what, replicaUrl] of Object.entries(cases)) {
      const response = await callWithBindings({ DATABASE_REPLICA_URL: replicaUrl }, '/health');
      expect(response.status, what).toBe(200);
      const body = (await response.json()) as { status: string; checks: { replicas: unknown[] } };
      expect(body.status, what).toBe('degraded');
      // No lag figures for a replica that did not answer.
      expect(body.checks.replicas, what).toEqual([{ name: 'replica-1', status: 'unavailable', latencyMs: expect.any(Number), error: expected[what as keyof typeof expected] }]);
    }
  });
});

describe('a replica that answers wrongly (a test endpoint in front of the stand-in answers for it)', () => {
  const endpoint = inject('brokenReplicaEndpoint');
  /** Bindings whose replica gets `answer` from the test endpoint; a distinct URL per call (the backoff is per replica URL). */
  const replicaAnswering = (answer: string) => ({
    NEON_FETCH_ENDPOINT: endpoint,
    DATABASE_REPLICA_URL: `postgresql://reader:secret@${answer}.broken-replica.test/db?case=${crypto.randomUUID().slice(0, 8)}`,
    READ_CACHE_TTL_SECONDS: '0',
  });

  for (const answer of ['not-json', 'not-json-error', 'no-results', 'schema-lag']) {
    it(`sends reads to the primary when it answers ${answer}, then skips it for a while`, async () => {
      const bindings = replicaAnswering(answer);
      const first = await callWithBindings(bindings, '/species/pikachu');
      expect(first.status).toBe(200);
      expect(((await first.json()) as { name: string }).name).toBe('Pikachu');
      expect(roundTrips(first)).toEqual({ db: 1, replica: 1, redis: 0 });
      const next = await callWithBindings(bindings, '/species/pikachu');
      expect(next.status).toBe(200);
      expect(roundTrips(next)).toEqual({ db: 1, replica: 0, redis: 0 });
    });
  }

  it('sends a read cancelled by a replay conflict to the primary, and keeps asking the replica', async () => {
    const bindings = replicaAnswering('replay-conflict');
    for (let i = 0; i < 2; i++) {
      const read = await callWithBindings(bindings, '/species/pikachu');
      expect(read.status).toBe(200);
      // The conflict concerned that one query, not the replica: no backoff.
      expect(roundTrips(read)).toEqual({ db: 1, replica: 1, redis: 0 });
    }
  });

  it('lets an error in the request itself stand: the primary would answer the same (422, no primary round trip)', async () => {
    const read = await callWithBindings(replicaAnswering('data-exception'), '/species/pikachu');
    const problem = await expectProblem(read, 422);
    expect(problem.type).toBe('/problems/validation-failed');
    expect(roundTrips(read)).toEqual({ db: 0, replica: 1, redis: 0 });
  });

  it('answers a statement the replica cannot parse (a bug of ours) with a 500 that discloses nothing, and asks no primary', async () => {
    const read = await callWithBindings(replicaAnswering('syntax-error'), '/species/pikachu');
    const problem = await expectProblem(read, 500);
    expect(problem.type).toBe('/problems/internal-error');
    expect(problem.detail).toContain(problem.requestId);
    expect(JSON.stringify(problem)).not.toContain('SELEC');
    expect(roundTrips(read)).toEqual({ db: 0, replica: 1, redis: 0 });
  });

  it('reports a replica whose answer is not Neon JSON in /health as unavailable, the primary ok', async () => {
    const response = await callWithBindings(replicaAnswering('not-json'), '/health');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; checks: { database: { status: string }; replicas: unknown[] } };
    expect(body.status).toBe('degraded');
    expect(body.checks.database.status).toBe('ok');
    expect(body.checks.replicas).toEqual([{ name: 'replica-1', status: 'unavailable', latencyMs: expect.any(Number), error: 'could not be reached' }]);
  });
});
