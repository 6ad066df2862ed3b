/**
 * Test helpers that call the Worker inside workerd, exactly as a client would over HTTP.
 */
import { env, exports } from 'cloudflare:workers';
import { expect, inject } from 'vitest';
import app from '../../src/index.ts';
import type { Bindings } from '../../src/env.ts';

const BASE = 'http://api.test';

/** This run's bootstrap admin key. */
export const ADMIN_KEY = inject('bindings').ADMIN_API_KEY;

export interface CallInit extends RequestInit {
  /** Sent as the body, with a JSON content type. */
  json?: unknown;
  /** The API key to send: the bootstrap admin key by default, `null` for none. */
  key?: string | null;
}

function request(path: string, { json, key = ADMIN_KEY, ...rest }: CallInit): Request {
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set('Content-Type', 'application/json');
  if (key !== null && !headers.has('Authorization')) headers.set('Authorization', `Bearer ${key}`);
  return new Request(`${BASE}${path}`, { ...rest, headers, body: json === undefined ? rest.body : JSON.stringify(json) });
}

/** Sends a request to the Worker's `fetch` handler, with the admin key unless `key` says otherwise. */
export function call(path: string, init: CallInit = {}): Promise<Response> {
  return exports.default.fetch(request(path, init));
}

/** The little of an ExecutionContext a direct `app.request` needs: `waitUntil` work is awaited by nobody, as after a response. */
const executionContext = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;

/** Calls the app with some bindings replaced, e.g. to point a dependency at a dead port. */
export function callWithBindings(overrides: Partial<Bindings>, path: string, init: CallInit = {}): Promise<Response> {
  return Promise.resolve(app.request(request(path, init), undefined, { ...env, ...overrides }, executionContext));
}

export interface RoundTripCounts {
  /** The primary database. */
  db: number;
  replica: number;
  redis: number;
}

/** Round trips a response reports in `Server-Timing`, per dependency. */
export function roundTrips(response: Response): RoundTripCounts {
  const header = response.headers.get('Server-Timing') ?? '';
  const count = (name: string) => Number(new RegExp(`(?:^|,\\s*)${name};count=(\\d+)`).exec(header)?.[1] ?? NaN);
  return { db: count('db'), replica: count('replica'), redis: count('redis') };
}

/** True when this run's Worker has a read replica (the embedded engines' read-only one, or a private streaming replica). */
export const HAS_REPLICA = inject('bindings').DATABASE_REPLICA_URL !== undefined;

/**
 * The counts a request should report: `reads` database round trips that a replica serves when
 * there is one, `writes` on the primary, and `redis`.
 */
export function expectedTrips({ reads = 0, writes = 0, redis = 0 }: { reads?: number; writes?: number; redis?: number }): RoundTripCounts {
  return { db: writes + (HAS_REPLICA ? 0 : reads), replica: HAS_REPLICA ? reads : 0, redis };
}

/** Asserts an RFC 9457 problem response and returns its body. */
export async function expectProblem(response: Response, status: number): Promise<Record<string, any>> {
  expect(response.headers.get('Content-Type')).toMatch(/^application\/problem\+json/);
  const body = (await response.json()) as Record<string, any>;
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^\/problems\//), title: expect.any(String), detail: expect.any(String) });
  expect(response.status).toBe(status);
  return body;
}

/** A port on 127.0.0.1 where nothing listens: a dead dependency. */
export const DEAD_URL = 'http://127.0.0.1:9';
