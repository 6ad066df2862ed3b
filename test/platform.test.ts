import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { call, callWithBindings, DEAD_URL, expectProblem, roundTrips } from './support/api.ts';

describe('GET /health', () => {
  it('reports both dependencies with one round trip each', async () => {
    const response = await call('/health');
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({
      status: 'ok',
      checks: { database: { status: 'ok', latencyMs: expect.any(Number) }, cache: { status: 'ok', latencyMs: expect.any(Number) } },
    });
    expect(roundTrips(response)).toEqual({ db: 1, cache: 1 });
  });

  it('answers 503 naming the cache when Redis is unreachable', async () => {
    const response = await callWithBindings({ UPSTASH_REDIS_REST_URL: DEAD_URL }, '/health');
    const problem = await expectProblem(response, 503);
    expect(problem.dependencies).toEqual(['cache']);
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
    const started = Date.now();
    const response = await callWithBindings(
      { UPSTASH_REDIS_REST_URL: inject('blackHoleUrl'), NEON_FETCH_ENDPOINT: `${inject('blackHoleUrl')}/sql`, DEPENDENCY_TIMEOUT_MS: '300' },
      '/health',
    );
    const problem = await expectProblem(response, 503);
    expect(problem.dependencies).toEqual(['database', 'cache']);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('request metadata', () => {
  it('echoes a client request id and generates one otherwise', async () => {
    const echoed = await call('/health', { headers: { 'X-Request-Id': 'trace-abc-123' } });
    expect(echoed.headers.get('X-Request-Id')).toBe('trace-abc-123');
    const generated = await call('/health');
    expect(generated.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports round trips and total time in Server-Timing', async () => {
    const response = await call('/health');
    expect(response.headers.get('Server-Timing')).toMatch(/^db;count=1;dur=[\d.]+, cache;count=1;dur=[\d.]+, total;dur=[\d.]+$/);
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
