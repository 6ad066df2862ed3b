/**
 * The floor for `npm run bench:reads`'s read-cache part: a bare Hono Worker that answers every
 * request with the same constant JSON (the size of a `GET /pokemon/:id` answer) — no auth, no
 * services, no cache, no I/O. bench/support/processes.ts `startBareWorker()` runs it under
 * `wrangler dev` with a generated config, as `npm run dev` runs the API.
 *
 * Three request headers add, one at a time, what a read-cache hit of the API does beyond its own
 * JavaScript, to show what each costs: `X-Bench-Api-Headers` answers with the API's headers on a
 * hit (the same names, values of the same size), `X-Bench-Lookup` first looks up a small record
 * in the Cache API, as the read cache looks up its generation record, and `X-Bench-Log` writes a
 * line of the API's request log (src/platform/request-log.ts) to `console.log`.
 */
import { Hono } from 'hono';

const BODY = JSON.stringify({
  id: 'pikachu1',
  nickname: 'Sparky',
  species: { number: 25, name: 'pikachu' },
  level: 25,
  ownerId: 'ash',
  dateOfOwnership: '2020-04-01',
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-01-01T00:00:00.000Z',
});
const JSON_ONLY = { 'Content-Type': 'application/json' };
const API_HEADERS = {
  ...JSON_ONLY,
  ETag: '"0123456789abcdef0123456789abcdef"',
  'Cache-Control': 'public, no-cache',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Referrer-Policy': 'no-referrer',
  'Strict-Transport-Security': 'max-age=15552000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  Vary: 'Origin',
  'X-Request-Id': '00000000-0000-4000-8000-000000000000',
  'Server-Timing': 'db;count=0;dur=0.0, replica;count=0;dur=0.0, redis;count=0;dur=0.0, cache;desc="hit-isolate", total;dur=0.0',
};
/** A request log line of the size src/platform/request-log.ts writes for a hit. */
const LOG_LINE = JSON.stringify({
  level: 'info',
  requestId: '00000000-0000-4000-8000-000000000000',
  method: 'GET',
  route: null,
  status: 200,
  durationMs: 0.1,
  roundTrips: { db: 0, replica: 0, redis: 0 },
  keyId: 'admin',
});
const RECORD = 'https://read-cache.internal/generation';
/** The Workers Cache API (bench/ is typechecked with Node's types, which lack it). */
declare const caches: { default: { match(url: string): Promise<Response | undefined>; put(url: string, response: Response): Promise<void> } };

const app = new Hono();
app.get('*', async (c) => {
  if (c.req.header('X-Bench-Lookup') !== undefined) {
    const record = await caches.default.match(RECORD);
    if (!record) await caches.default.put(RECORD, new Response(null, { headers: { 'Cache-Control': 'max-age=3600', 'X-Read-Cache-Generation': '1' } }));
  }
  if (c.req.header('X-Bench-Log') !== undefined) console.log(LOG_LINE);
  return c.body(BODY, 200, c.req.header('X-Bench-Api-Headers') !== undefined ? API_HEADERS : JSON_ONLY);
});

export default app;
