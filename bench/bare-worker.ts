/**
 * The floor for `npm run bench:reads`'s read-cache part: a bare Hono Worker that answers every
 * request with the same constant JSON (the size of a `GET /pokemon/:id` answer) — no auth, no
 * services, no cache, no I/O. bench/support/processes.ts `startBareWorker()` runs it under
 * `wrangler dev` with a generated config, as `npm run dev` runs the API.
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

const app = new Hono();
app.get('*', (c) => c.body(BODY, 200, { 'Content-Type': 'application/json' }));

export default app;
