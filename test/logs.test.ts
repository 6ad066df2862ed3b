/**
 * Structured logs: one JSON line per request with what an operator needs, errors with their
 * stack in the log only, and never a secret.
 */
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { ADMIN_KEY, call, callWithBindings, DEAD_URL, expectProblem, roundTrips } from './support/api.ts';
import { createTrainer } from './support/fixtures.ts';
import { createKey } from './support/keys.ts';
import type { AppEnv } from '../src/env.ts';
import { noteError, requestLog } from '../src/platform/request-log.ts';

let log: MockInstance<typeof console.log>;
beforeEach(() => {
  log = vi.spyOn(console, 'log');
});
afterEach(() => log.mockRestore());

/** The request log lines written since the spy was set (other output is not ours). */
function lines(): Record<string, any>[] {
  return log.mock.calls.map(([first]) => String(first)).filter((text) => text.startsWith('{"level"')).map((text) => JSON.parse(text));
}

describe('request logs', () => {
  it('writes one line per request: method, route pattern, status, duration, request id, round trips, key id', async () => {
    const trainer = await createTrainer();
    log.mockClear();
    const response = await call(`/trainers/${trainer.id}`, { headers: { 'X-Request-Id': 'log-test-1' } });
    expect(response.status).toBe(200);
    expect(lines()).toEqual([
      {
        level: 'info',
        requestId: 'log-test-1',
        method: 'GET',
        route: '/trainers/:id',
        status: 200,
        durationMs: expect.any(Number),
        roundTrips: roundTrips(response),
        keyId: 'admin',
      },
    ]);
    log.mockClear();
    await call('/nowhere', { key: null });
    expect(lines()).toEqual([expect.objectContaining({ method: 'GET', route: null, status: 404, roundTrips: { db: 0, replica: 0, redis: 0 } })]);
    expect(lines()[0]).not.toHaveProperty('keyId');
  });

  it('names a key by its id and never logs a secret', async () => {
    const key = await createKey({ scopes: ['read', 'write'] });
    log.mockClear();
    await call('/trainers', { method: 'POST', key: key.key, json: { id: 'x' } });
    await call('/trainers?limit=1', { key: key.key });
    const written = lines();
    expect(written.map((line) => [line.method, line.status, line.keyId])).toEqual([
      ['POST', 422, key.id],
      ['GET', 200, key.id],
    ]);
    const text = JSON.stringify(log.mock.calls);
    expect(text).not.toContain(key.key);
    expect(text).not.toContain(ADMIN_KEY);
  });

  it('logs a 5xx with its error and stack, which the answer does not carry', async () => {
    log.mockClear();
    const response = await callWithBindings({ NEON_FETCH_ENDPOINT: `${DEAD_URL}/sql` }, '/trainers/someone');
    const problem = await expectProblem(response, 503);
    expect(JSON.stringify(problem)).not.toMatch(/\bat \S+ \(|stack/);
    const [line] = lines();
    expect(line).toMatchObject({ level: 'error', status: 503, route: '/trainers/:id', requestId: problem.requestId });
    expect(line!.errors[0]).toMatchObject({ name: expect.any(String), message: expect.any(String), stack: expect.stringContaining('at ') });
  });
});

describe('errors in the log line', () => {
  // Whatever a library throws or rejects with: a string, a wrapped cause, an error with no stack.
  it('describes a thrown value that is not an Error, a cause that is not one, and errors without a stack', async () => {
    const causeWithoutStack = new Error('socket closed');
    causeWithoutStack.stack = undefined;
    const withoutStack = new Error('no stack here');
    withoutStack.stack = undefined;
    const app = new Hono<AppEnv>().use(requestLog).get('/probe', (c) => {
      noteError(c, 'thrown text', 'the peer said no');
      noteError(c, 'text cause', new Error('query failed', { cause: 'timed out after 5s' }));
      noteError(c, 'cause without stack', new Error('fetch failed', { cause: causeWithoutStack }));
      noteError(c, 'no stack', withoutStack);
      return c.text('ok');
    });
    expect((await app.request('/probe')).status).toBe(200);
    const [line] = lines();
    expect(line!.errors).toEqual([
      { during: 'thrown text', name: 'Error', message: 'the peer said no' },
      { during: 'text cause', name: 'Error', message: 'query failed', stack: expect.stringMatching(/^Error: query failed\n[^]*\ncaused by: timed out after 5s$/) },
      { during: 'cause without stack', name: 'Error', message: 'fetch failed', stack: expect.stringMatching(/\ncaused by: socket closed$/) },
      { during: 'no stack', name: 'Error', message: 'no stack here' },
    ]);
  });
});
