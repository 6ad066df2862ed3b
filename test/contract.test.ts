/**
 * The contract, case by case: the checker itself, then requests generated from the OpenAPI
 * document for every operation (a bad bookmark, a body that is not JSON, malformed or invalid, a
 * bad `limit`, an id that names nothing, no key, a method the path does not take). Each answer
 * goes through `call()`, so it is held to the document like every other test's.
 */
import { describe, expect, it } from 'vitest';
import { call, expectProblem } from './support/api.ts';
import { checkContract, ContractViolation, contractFor, resolved } from './support/contract.ts';
import { trainerWithKey } from './support/offers.ts';

const answer = (type: string) => (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': type, 'X-Request-Id': 'r', 'Server-Timing': 'total;dur=1', ...headers } });
const json = answer('application/json');
const problem = answer('application/problem+json');
const PROBLEM = { type: '/problems/rate-limited', title: 'Too many requests', status: 429, detail: 'Slow down.', instance: '/trainers/ash', requestId: 'r' };

describe('the contract check', () => {
  it('refuses an undocumented status, a body off its schema and a missing required header', async () => {
    const get = new Request('http://api.test/trainers/ash');
    await expect(checkContract(get, json({}, 418))).rejects.toThrow(/does not document 418/);
    await expect(checkContract(get, json({ id: 'ash' }, 200, { ETag: '"x"', 'Cache-Control': 'no-cache' }))).rejects.toThrow(/does not match/);
    await expect(checkContract(new Request('http://api.test/trainers', { method: 'POST' }), json({}, 201))).rejects.toThrow(/Location/);
    await expect(checkContract(new Request('http://api.test/trainers', { method: 'PUT' }), json({}, 200))).rejects.toThrow(ContractViolation);
  });

  it('follows $ref to the shared responses and headers: a wrong header or body there is still refused', async () => {
    const get = new Request('http://api.test/trainers/ash');
    // 429 and 404 are `components.responses` entries; Retry-After and WWW-Authenticate `components.headers` ones.
    await expect(checkContract(get, problem(PROBLEM, 429, { 'Retry-After': '1' }))).resolves.toBeUndefined();
    await expect(checkContract(get, problem(PROBLEM, 429))).rejects.toThrow(/must send the Retry-After header/);
    await expect(checkContract(get, problem({ ...PROBLEM, status: 401 }, 401))).rejects.toThrow(/must send the WWW-Authenticate header/);
    await expect(checkContract(get, problem({ title: 'Not found' }, 404))).rejects.toThrow(/does not match getTrainer \(GET \/trainers\/\{id\}\)'s 404 schema/);
    await expect(checkContract(get, json(PROBLEM, 404))).rejects.toThrow(/answered application\/json; documented: application\/problem\+json/);
    // A success's Server-Timing, by reference too; and the 404 of no route, from components.responses.
    const answered = json({ id: 'ash', firstName: 'Ash', lastName: 'Ketchum', dateOfBirth: '2010-05-22', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', pokemonCount: 0 }, 200, { ETag: '"x"', 'Cache-Control': 'no-cache' });
    answered.headers.delete('Server-Timing');
    await expect(checkContract(get, answered)).rejects.toThrow(/must send the Server-Timing header/);
    await expect(checkContract(new Request('http://api.test/nowhere'), problem({ title: 'Not found' }, 404))).rejects.toThrow(/does not match no route's 404 schema/);
  });
});

type Parameter = { name: string; in: string; example?: unknown; schema?: { example?: unknown; enum?: string[] } };
type Operation = { operationId: string; parameters?: Parameter[]; requestBody?: { content: Record<string, unknown> }; security?: Record<string, string[]>[] };

/** An id of the right shape that names nothing, per path parameter. */
function absentId(path: string, parameter: Parameter): string {
  if (path.startsWith('/keys')) return `key_${'0'.repeat(24)}`;
  if (path.startsWith('/offers')) return `of_${'0'.repeat(32)}`;
  if (path.startsWith('/uploads')) return crypto.randomUUID();
  if (parameter.name === 'code') return 'no-such-problem';
  return `absent-${crypto.randomUUID().slice(0, 8)}`;
}

const { document, operations } = contractFor(true);
const cases = operations.map(({ method, path, operation }) => {
  const op = operation as unknown as Operation;
  // Shared parameters are references to components.parameters.
  const parameters = (op.parameters ?? []).map((parameter) => resolved(document, parameter));
  const url = path.replace(/\{([^}]+)\}/g, (_, name: string) => absentId(path, parameters.find((p) => p.name === name)!));
  return { method, path, url, op, parameters, needsKey: !op.security?.some((requirement) => Object.keys(requirement).length === 0) };
});

describe.each(cases)('$method $path', ({ method, url, op, parameters, needsKey }) => {
  it('refuses a malformed X-Bookmark with 422 naming the header', async () => {
    const body = await expectProblem(await call(url, { method, headers: { 'X-Bookmark': 'not-a-bookmark' } }), 422);
    expect(body.errors).toEqual([{ parameter: 'X-Bookmark', detail: expect.any(String) }]);
  });

  if (needsKey) {
    it('answers 401 with a challenge without a key', async () => {
      const response = await call(url, { method, key: null });
      await expectProblem(response, 401);
      expect(response.headers.get('WWW-Authenticate')).toMatch(/^Bearer realm=/);
    });
  }

  if (op.requestBody && 'application/json' in op.requestBody.content) {
    it('answers 415 to a body that is not JSON, 400 to malformed JSON and 422 to an unknown field', async () => {
      await expectProblem(await call(url, { method, body: 'id=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }), 415);
      await expectProblem(await call(url, { method, body: '{"id":', headers: { 'Content-Type': 'application/json' } }), 400);
      const invalid = await expectProblem(await call(url, { method, json: { notAField: 1 } }), 422);
      expect(invalid.errors).toContainEqual({ pointer: '/notAField', detail: expect.any(String) });
    });
  }

  if (parameters.some((p) => p.in === 'query' && p.name === 'limit')) {
    it('refuses a bad limit with 422 naming it', async () => {
      const body = await expectProblem(await call(`${url}?limit=0x10`, { method }), 422);
      expect(body.errors).toContainEqual({ parameter: 'limit', detail: expect.any(String) });
    });
  }

  if (parameters.some((p) => p.in === 'path') && !op.requestBody) {
    it('answers 404 for an id that names nothing', async () => {
      // Only an offer's parties act on it: a trainer key's, not the admin's.
      const key = /^\/offers\/[^/]+(\/|$)/.test(url) && method !== 'GET' ? (await trainerWithKey()).key : undefined;
      await expectProblem(await call(url, { method, ...(key && { key }) }), 404);
    });
  }
});

describe.each(Object.keys(document.paths))('%s', (path) => {
  it('answers 405 with Allow to a method it does not take', async () => {
    const response = await call(path.replace(/\{[^}]+\}/g, 'x'), { method: 'PUT', json: {} });
    await expectProblem(response, 405);
    const documented = Object.keys(document.paths[path]!).map((method) => method.toUpperCase());
    expect(response.headers.get('Allow')!.split(', ')).toEqual(expect.arrayContaining(documented));
  });
});
