/**
 * What the API's middleware costs a request, one layer at a time, in-process (no wrangler, no
 * sockets: CPU of the JavaScript alone, on Node's V8). Each stack answers `GET /pokemon/:id`
 * with the same constant body as bench/bare-worker.ts, adding src/app.ts's middleware in order:
 * secure headers, services (request id, config, Server-Timing), CORS (no `Origin` sent), authentication with the
 * admin key. The read cache itself needs the Workers Cache API: bench/cache.ts measures it.
 *
 *   npm run bench:middleware     # ~30 s: 3 rounds × 5 stacks × 20,000 requests
 */
import { timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../src/env.ts';
import { authenticate } from '../src/http/auth.ts';
import { crossOrigin, secureHeadersOptions } from '../src/http/headers.ts';
import { services } from '../src/platform/services.ts';

const BODY = JSON.stringify({ id: 'pikachu1', nickname: 'Sparky', species: { number: 25, name: 'pikachu' }, level: 25, ownerId: 'ash', dateOfOwnership: '2020-04-01', createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z' });
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const env = {
  DATABASE_URL: 'postgres://bench:bench@127.0.0.1:1/bench',
  UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1',
  UPSTASH_REDIS_REST_TOKEN: 'bench',
  ADMIN_API_KEY: ADMIN_KEY,
};
// Workers' Web Crypto extension, which src/http/auth.ts uses, from Node's equivalent.
Object.assign(crypto.subtle, { timingSafeEqual: (a: ArrayBuffer, b: ArrayBuffer) => timingSafeEqual(new Uint8Array(a), new Uint8Array(b)) });
const REQUESTS = 20_000;
const ROUNDS = 3;

type Layer = 'secureHeaders' | 'services' | 'crossOrigin' | 'authenticate';
const LAYERS: Layer[] = ['secureHeaders', 'services', 'crossOrigin', 'authenticate'];

function stack(layers: Layer[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  for (const layer of layers) {
    if (layer === 'secureHeaders') app.use('*', secureHeaders(secureHeadersOptions));
    if (layer === 'services') app.use('*', services);
    if (layer === 'crossOrigin') app.use('*', crossOrigin);
    if (layer === 'authenticate') app.use('*', authenticate);
  }
  app.get('*', (c) => c.body(BODY, 200, { 'Content-Type': 'application/json' }));
  return app;
}

/** CPU µs per request (user + system) of `REQUESTS` sequential requests. */
async function cpuPerRequest(app: Hono<AppEnv>): Promise<number> {
  const headers = { Authorization: `Bearer ${ADMIN_KEY}` };
  for (let i = 0; i < 2_000; i++) await (await app.request('/pokemon/pikachu1', { headers }, env)).arrayBuffer();
  const before = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    const response = await app.request('/pokemon/pikachu1', { headers }, env);
    if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / REQUESTS;
}

const stacks = LAYERS.map((_, i) => LAYERS.slice(0, i + 1)).map((layers) => ({ name: `+ ${layers.at(-1)}`, layers }));
stacks.unshift({ name: 'bare Hono', layers: [] });
const results = new Map<string, number[]>(stacks.map((s) => [s.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const { name, layers } of stacks) results.get(name)!.push(await cpuPerRequest(stack(layers)));
}
const fmt = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[0]!.toFixed(1)} / ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} / ${sorted.at(-1)!.toFixed(1)}`;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`CPU µs per request, min / median / max of ${ROUNDS} rounds × ${REQUESTS} requests (load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')})`);
let previous = 0;
for (const { name } of stacks) {
  const m = median(results.get(name)!);
  console.log(`${name.padEnd(16)} ${fmt(results.get(name)!).padEnd(22)} layer: ${(m - previous).toFixed(1)}`);
  previous = m;
}
