import { Redis } from '@upstash/redis/cloudflare';
import { describe, expect, inject, it } from 'vitest';
import { uploadKeys } from '../src/domain/uploads/staging.ts';
import { call, callWithBindings, expectProblem } from './support/api.ts';
import { createTrainer, uniqueId } from './support/fixtures.ts';
import { createKey } from './support/keys.ts';

const bindings = inject('bindings');
const redis = new Redis({ url: bindings.UPSTASH_REDIS_REST_URL, token: bindings.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, enableAutoPipelining: false });
const utf8 = new TextEncoder();

const POKEMON_HEADER = 'id,nickname,species,level,owner,dateOfOwnership';

/** A small deterministic generator (mulberry32): the same seed, the same cuts. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A Pokémon file with everything a cut can fall inside: quoted nicknames with commas, doubled
 * quotes and line breaks, multi-byte characters (2-, 3- and 4-byte), CRLF and LF, blank lines,
 * and invalid rows (bad level, unknown species, unknown owner, a duplicate id far from its first).
 */
function awkwardFile(prefix: string, owner: string, count: number): string {
  const nicknames = ['Plain', '"Comma, inside"', '"Said ""hi"""', '"Two\r\nlines"', 'Émilie', '日本語の名前', '"🐉 dragon, 🔥"', 'Zoë'];
  const species = ['Pikachu', 'Mr. Mime', "Farfetch'd", 'Eevee', 'Snorlax'];
  const lines = [POKEMON_HEADER];
  for (let i = 0; i < count; i++) {
    const id = i === count - 3 ? `${prefix}-2` : `${prefix}-${i}`;
    const level = i % 17 === 5 ? '900' : String((i % 100) + 1);
    const kind = i % 23 === 7 ? 'Notamon' : species[i % species.length];
    const who = i % 29 === 11 ? `${prefix}-nobody` : owner;
    lines.push(`${id},${nicknames[i % nicknames.length]},${kind},${level},${who},2021-0${(i % 9) + 1}-1${i % 10}`);
    if (i % 31 === 3) lines.push('');
  }
  return lines.map((line, i) => (i % 2 ? `${line}\r\n` : `${line}\n`)).join('');
}

function awkwardValidFile(prefix: string, owner: string, count: number): string {
  const nicknames = ['Plain', '"Comma, inside"', '"Said ""hi"""', '"Two\r\nlines"', 'Émilie', '日本語の名前', '"🐉 dragon, 🔥"', 'Zoë'];
  const rows = Array.from({ length: count }, (_, i) => `${prefix}-${i},${nicknames[i % nicknames.length]},Pikachu,${(i % 100) + 1},${owner},2021-01-0${(i % 9) + 1}`);
  return [POKEMON_HEADER, ...rows].join('\r\n');
}

/** Byte offsets at every awkward place of `bytes`: inside quotes, inside UTF-8 characters, between CR and LF. */
function awkwardCuts(bytes: Uint8Array): number[] {
  const cuts: number[] = [];
  for (let i = 1; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if ((byte & 0xc0) === 0x80 || (bytes[i - 1] === 0x0d && byte === 0x0a) || byte === 0x22 || bytes[i - 1] === 0x22) cuts.push(i);
  }
  return cuts;
}

async function create(type: string, first?: Uint8Array, query = ''): Promise<{ response: Response; id: string }> {
  const response = await call(`/uploads?type=${type}${query}`, { method: 'POST', body: first ?? null, headers: { 'Content-Type': 'text/csv', 'Upload-Complete': '?0' } });
  const location = response.headers.get('Location') ?? '';
  return { response, id: location.split('/').pop()! };
}

function patch(id: string, offset: number, piece: BodyInit, complete: boolean, headers: Record<string, string> = {}) {
  return call(`/uploads/${id}`, {
    method: 'PATCH',
    body: piece,
    headers: { 'Content-Type': 'application/partial-upload', 'Upload-Offset': String(offset), 'Upload-Complete': complete ? '?1' : '?0', ...headers },
  });
}

/** Sends `bytes` as a resumable upload cut at `cuts` (the first piece with the creation); returns the last answer. */
async function sendInPieces(type: string, bytes: Uint8Array, cuts: number[]): Promise<Response> {
  const bounds = [0, ...cuts, bytes.length];
  const { response, id } = await create(type, bytes.subarray(0, bounds[1]));
  expect(response.status, await response.clone().text()).toBe(201);
  expect(response.headers.get('Upload-Offset')).toBe(String(bounds[1]));
  for (let i = 1; i < bounds.length - 1; i++) {
    const last = i === bounds.length - 2;
    const answer = await patch(id, bounds[i]!, bytes.slice(bounds[i], bounds[i + 1]), last);
    if (last) return answer;
    expect(answer.status, await answer.clone().text()).toBe(204);
    expect(answer.headers.get('Upload-Offset')).toBe(String(bounds[i + 1]));
  }
  throw new Error('no pieces');
}

/** A single-request upload's answer, without what differs by upload (id, times, the resumable headers). */
async function comparable(response: Response) {
  const body = (await response.json()) as Record<string, any>;
  const { id: _id, createdAt: _c, expiresAt: _e, offset: _o, instance: _i, requestId: _r, ...rest } = body;
  return { status: response.status, body: rest };
}

function singleRequest(type: string, bytes: Uint8Array) {
  return call(`/uploads?type=${type}`, { method: 'POST', body: bytes, headers: { 'Content-Type': 'text/csv' } });
}

describe('Resumable uploads: pieces cut anywhere', () => {
  it('answers like a single-request upload, for a few dozen seeded cut sets (errors with absolute lines and columns)', async () => {
    const owner = await createTrainer({ dateOfBirth: '2000-01-01' });
    const prefix = uniqueId('cut');
    const bytes = utf8.encode(awkwardFile(prefix, owner.id, 120));
    const expected = await comparable(await singleRequest('pokemon', bytes));
    expect(expected.status).toBe(422);
    expect(expected.body.errorCount).toBeGreaterThan(10);
    // A duplicate id far from its first line, and errors on late lines: line numbers are the whole file's.
    expect(expected.body.errors).toContainEqual(expect.objectContaining({ column: 'id', detail: expect.stringMatching(/^repeats the id on line \d+$/) }));
    const awkward = awkwardCuts(bytes);
    const next = random(12);
    for (let set = 0; set < 30; set++) {
      const count = 1 + Math.floor(next() * 6);
      const cuts = new Set<number>();
      while (cuts.size < count) cuts.add(set % 2 ? awkward[Math.floor(next() * awkward.length)]! : 1 + Math.floor(next() * (bytes.length - 1)));
      const sorted = [...cuts].sort((a, b) => a - b);
      const actual = await comparable(await sendInPieces('pokemon', bytes, sorted));
      expect(actual, `cuts ${sorted.join(',')}`).toEqual(expected);
    }
  });

  it('stages the same rows as a single request, and commits them', async () => {
    const owner = await createTrainer({ dateOfBirth: '2000-01-01' });
    const single = utf8.encode(awkwardValidFile(uniqueId('same'), owner.id, 40));
    const expected = await comparable(await singleRequest('pokemon', single));
    expect(expected.status).toBe(201);
    const prefix = uniqueId('valid');
    const bytes = utf8.encode(awkwardValidFile(prefix, owner.id, 40));
    const cuts = awkwardCuts(bytes).filter((_, i) => i % 9 === 4);
    const last = await sendInPieces('pokemon', bytes, cuts);
    expect(last.status, await last.clone().text()).toBe(201);
    const staged = (await last.json()) as Record<string, any>;
    expect(staged).toMatchObject({ status: 'staged', rows: 40 });
    expect(staged.preview[3].nickname).toBe('Two\r\nlines');
    expect(staged.preview[6].nickname).toBe('🐉 dragon, 🔥');
    const committed = await call(`/uploads/${staged.id}/commit`, { method: 'POST' });
    expect(committed.status).toBe(200);
    expect(await committed.json()).toMatchObject({ inserted: 40 });
    const pokemon = (await (await call(`/pokemon/${prefix}-5`)).json()) as Record<string, any>;
    expect(pokemon.nickname).toBe('日本語の名前');
  });
});

describe('Resumable uploads: the protocol', () => {
  it('creates with an empty body, reports state on HEAD and GET, refuses a wrong offset with the right one', async () => {
    const { response, id } = await create('trainer');
    expect(response.status).toBe(201);
    expect(response.headers.get('Upload-Offset')).toBe('0');
    expect(response.headers.get('Upload-Limit')).toMatch(/^max-size=\d+, max-append-size=\d+, max-age=\d+$/);
    expect(await response.json()).toMatchObject({ id, status: 'receiving', offset: 0, rows: 0 });

    const first = utf8.encode('id,firstName,lastName,dateOfBirth\r\nt1,Ash,Ket');
    expect((await patch(id, 0, first, false)).status).toBe(204);
    const head = await call(`/uploads/${id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Object.fromEntries(['Upload-Offset', 'Upload-Complete', 'Cache-Control'].map((name) => [name, head.headers.get(name)]))).toEqual({
      'Upload-Offset': String(first.length),
      'Upload-Complete': '?0',
      'Cache-Control': 'no-store',
    });
    const get = await call(`/uploads/${id}`);
    expect(get.headers.get('Upload-Offset')).toBe(String(first.length));
    expect(await get.json()).toMatchObject({ status: 'receiving', offset: first.length, rows: 0 });

    const wrong = await patch(id, 3, utf8.encode('chum,2010-05-22'), true);
    const problem = await expectProblem(wrong, 409);
    expect(wrong.headers.get('Upload-Offset')).toBe(String(first.length));
    expect(problem.detail).toContain(`has ${first.length} bytes, not 3`);
    expect(problem).toMatchObject({ 'expected-offset': first.length, 'provided-offset': 3 });
    expect(wrong.headers.get('Upload-Complete')).toBe('?0');

    const commitEarly = await call(`/uploads/${id}/commit`, { method: 'POST' });
    await expectProblem(commitEarly, 409);

    const done = await patch(id, first.length, utf8.encode('chum,2010-05-22'), true);
    expect(done.status, await done.clone().text()).toBe(201);
    expect(await done.json()).toMatchObject({ status: 'staged', rows: 1, preview: [{ id: 't1', lastName: 'Ketchum' }] });
    const after = await call(`/uploads/${id}`, { method: 'HEAD' });
    expect(after.headers.get('Upload-Complete')).toBe('?1');
    await expectProblem(await patch(id, first.length + 15, utf8.encode('x'), true), 409);
  });

  it('refuses malformed headers (422) and a piece that is not application/partial-upload (415)', async () => {
    const { id } = await create('trainer');
    await expectProblem(await patch(id, 0, 'x', false, { 'Upload-Offset': '-1' }), 422);
    await expectProblem(await patch(id, 0, 'x', false, { 'Upload-Complete': 'true' }), 422);
    await expectProblem(await patch(id, 0, 'x', false, { 'Content-Type': 'text/csv' }), 415);
    await expectProblem(await patch(crypto.randomUUID(), 0, 'x', false), 404);
    // commit=true needs the whole file: a resumable creation with it is refused, and creates nothing.
    const refused = await call('/uploads?type=trainer&commit=true', { method: 'POST', body: '', headers: { 'Content-Type': 'text/csv', 'Upload-Complete': '?0' } });
    expect((await expectProblem(refused, 422)).errors).toEqual([expect.objectContaining({ parameter: 'commit' })]);
  });

  it('DELETE cancels a receiving upload: every key goes', async () => {
    const { id } = await create('trainer', utf8.encode('id,firstName,lastName,dateOfBirth\nt1,A,B,2000-01-01\n'));
    expect((await call(`/uploads/${id}`, { method: 'DELETE' })).status).toBe(204);
    const keys = uploadKeys(id);
    expect(await redis.exists(keys.meta, keys.chunks, keys.resume, keys.ids, keys.append)).toBe(0);
    await expectProblem(await patch(id, 0, 'x', false), 404);
  });

  it('DELETE waits for a running append (409), so the append cannot bring the upload back', async () => {
    const { id } = await create('trainer', utf8.encode('id,firstName,lastName,dateOfBirth\nt1,A,B,2000-01-01\n'));
    const keys = uploadKeys(id);
    // An append holds the lock, as one does while its piece arrives.
    await redis.set(keys.append, 'an-append', { px: 60_000 });
    await expectProblem(await call(`/uploads/${id}`, { method: 'DELETE' }), 409);
    expect(await redis.exists(keys.meta, keys.resume)).toBe(2);
    await redis.del(keys.append);
    expect((await call(`/uploads/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await redis.exists(keys.meta, keys.chunks, keys.resume, keys.ids, keys.append)).toBe(0);
  });
});

/** A body that sends `bytes` and then breaks, as a dropped connection does (once they are read: no queue ahead of the reader). */
function breakingBody(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream(
    {
      pull(controller) {
        if (sent) return controller.error(new Error('connection lost'));
        sent = true;
        controller.enqueue(bytes);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Polls an upload's HEAD until `done` holds for its offset (the dropped append saves after its body broke). */
async function offsetOnceSettled(id: string): Promise<number> {
  const keys = uploadKeys(id);
  // The append holds its lock until its state is saved: wait for the lock to go, not for a time.
  while ((await redis.exists(keys.append)) === 1) await scheduler.wait(10);
  const head = await call(`/uploads/${id}`, { method: 'HEAD' });
  return Number(head.headers.get('Upload-Offset'));
}

describe('Resumable uploads: dropped and concurrent appends', () => {
  it('keeps what a dropped append sent (whole rows staged, the open row carried) and resumes from there, counting nothing twice', async () => {
    const owner = await createTrainer({ dateOfBirth: '2000-01-01' });
    const prefix = uniqueId('drop');
    const bytes = utf8.encode(awkwardFile(prefix, owner.id, 80));
    const expected = await comparable(await singleRequest('pokemon', bytes));
    const { id } = await create('pokemon', bytes.subarray(0, 100));
    // Breaks inside a multi-byte character, far into the file.
    const breakAt = awkwardCuts(bytes).find((at) => at > bytes.length / 2 && (bytes[at]! & 0xc0) === 0x80)!;
    // The client meant to send the rest of the file (its Content-Length), and the connection broke.
    await patch(id, 100, breakingBody(bytes.slice(100, breakAt)), true, { 'Content-Length': String(bytes.length - 100) }).then(
      (response) => response.body?.cancel(),
      () => undefined,
    );
    expect(await offsetOnceSettled(id)).toBe(breakAt);
    const status = (await (await call(`/uploads/${id}`)).json()) as Record<string, any>;
    expect(status).toMatchObject({ status: 'receiving', offset: breakAt });
    expect(status.rows).toBeGreaterThan(30);
    // Resending an overlapping piece is refused; the rest from the offset completes the file.
    await expectProblem(await patch(id, 100, bytes.slice(100), true), 409);
    const done = await comparable(await patch(id, breakAt, bytes.slice(breakAt), true));
    expect(done).toEqual(expected);
  });

  it('a dropped append of a valid file: the resumed upload stages every row once and commits them', async () => {
    const owner = await createTrainer({ dateOfBirth: '2000-01-01' });
    const prefix = uniqueId('dropok');
    const bytes = utf8.encode(awkwardValidFile(prefix, owner.id, 60));
    const { id } = await create('pokemon');
    await patch(id, 0, breakingBody(bytes.slice(0, 1234)), false).then(
      (response) => response.body?.cancel(),
      () => undefined,
    );
    const offset = await offsetOnceSettled(id);
    expect(offset).toBe(1234);
    const done = await patch(id, offset, bytes.slice(offset), true);
    expect(done.status, await done.clone().text()).toBe(201);
    expect(await done.json()).toMatchObject({ status: 'staged', rows: 60 });
    const committed = await call(`/uploads/${id}/commit`, { method: 'POST' });
    expect(await committed.json()).toMatchObject({ inserted: 60 });
  });

  it('ids an append recorded before it failed are not repeats for the append that resends those rows; ids of saved pieces are', async () => {
    const owner = await createTrainer({ dateOfBirth: '2000-01-01' });
    const prefix = uniqueId('leftover');
    const row = (i: number) => `${prefix}-${i},Nick,Pikachu,5,${owner.id},2021-01-01\n`;
    const first = utf8.encode(`${POKEMON_HEADER}\n${row(0)}${row(1)}`);
    const { id } = await create('pokemon', first);
    const keys = uploadKeys(id);
    // What a failed append of lines 4–5 (never saved) left in the hash, as another append's records.
    await redis.hset(keys.ids, { [`${prefix}-2`]: '4/deadbeef', [`${prefix}-3`]: '5/deadbeef' });
    const done = await patch(id, first.length, utf8.encode(`${row(2)}${row(3)}`), true);
    expect(done.status, await done.clone().text()).toBe(201);
    expect(await done.json()).toMatchObject({ status: 'staged', rows: 4 });

    // The same records in front of an append whose rows start after them: they are earlier rows.
    const again = await create('pokemon', first);
    await redis.hset(uploadKeys(again.id).ids, { [`${prefix}-2`]: '3/deadbeef' });
    const problem = await expectProblem(await patch(again.id, first.length, utf8.encode(row(2)), true), 422);
    expect(problem.errors).toEqual([expect.objectContaining({ line: 4, column: 'id', detail: 'repeats the id on line 3' })]);
  });

  it('two appends at once: one wins, the other is refused with 409 and the offset', async () => {
    const { id } = await create('trainer', utf8.encode('id,firstName,lastName,dateOfBirth\n'));
    const start = 'id,firstName,lastName,dateOfBirth\n'.length;
    let release!: () => void;
    const slow = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(utf8.encode('t1,Ash,Ketchum,2010-05-22\n'));
        release = () => controller.close();
      },
    });
    const first = patch(id, start, slow, false);
    while ((await redis.exists(uploadKeys(id).append)) === 0) await scheduler.wait(5);
    const second = await patch(id, start, utf8.encode('t2,Misty,Waterflower,2011-07-03\n'), false);
    await expectProblem(second, 409);
    expect(second.headers.get('Upload-Offset')).toBe(String(start));
    release();
    const won = await first;
    expect(won.status).toBe(204);
    const offset = Number(won.headers.get('Upload-Offset'));
    expect(offset).toBe(start + 't1,Ash,Ketchum,2010-05-22\n'.length);
    const done = await patch(id, offset, utf8.encode('t2,Misty,Waterflower,2011-07-03\n'), true);
    expect(await done.json()).toMatchObject({ status: 'staged', rows: 2 });
  });
});

describe('Resumable uploads: pieces larger than one Redis write', () => {
  /** Trainers with 100-character names and 40-character ids: 45,000 rows are ~11 MB, more than one 8 MiB Redis write. */
  const bigRows = (prefix: string, from: number, count: number) =>
    Array.from({ length: count }, (_, i) => `${prefix}-${String(from + i).padStart(40 - prefix.length - 1, '0')},${'N'.repeat(100)},${'M'.repeat(100)},2000-01-01\n`).join('');

  it('a dropped piece cut mid-row after a write of its own: every whole row staged and every id recorded once, repeats of both pieces found', { timeout: 120_000 }, async () => {
    const prefix = uniqueId('wide');
    const header = 'id,firstName,lastName,dateOfBirth\n';
    const first = utf8.encode(header + bigRows(prefix, 0, 45_000));
    const { response, id } = await create('trainer', first);
    expect(response.status, await response.clone().text()).toBe(201);
    const keys = uploadKeys(id);
    // Announced as the last piece, and cut mid-row after more than one write's worth of rows.
    const second = utf8.encode(bigRows(prefix, 45_000, 45_000));
    const cut = 9_500_017;
    await patch(id, first.length, breakingBody(second.slice(0, cut)), true, { 'Content-Length': String(second.length) }).then(
      (answer) => answer.body?.cancel(),
      () => undefined,
    );
    const offset = await offsetOnceSettled(id);
    expect(offset).toBe(first.length + cut);
    const staged = Math.floor(cut / (second.length / 45_000));
    const status = (await (await call(`/uploads/${id}`)).json()) as Record<string, any>;
    expect(status).toMatchObject({ status: 'receiving', rows: 45_000 + staged, errorCount: 0 });
    // Every whole row once: as many chunks as the saved status counts, every id recorded once for the pieces to come.
    const saved = (await redis.get<{ chunks: number }>(keys.meta))!;
    expect(saved.chunks).toBeGreaterThan(16);
    expect(await redis.llen(keys.chunks)).toBe(saved.chunks);
    expect(await redis.hlen(keys.ids)).toBe(45_000 + staged);
    // The rest, then two rows repeating ids: one of the first piece, the last whole row of the dropped one.
    const rest = second.slice(cut);
    const repeats = utf8.encode(`${bigRows(prefix, 10, 1)}${bigRows(prefix, 45_000 + staged - 1, 1)}`);
    const problem = await expectProblem(await patch(id, offset, new Uint8Array([...rest, ...repeats]), true), 422);
    const lastLine = 1 + 90_000;
    expect(problem.errorCount).toBe(2);
    expect(problem.errors).toEqual([
      expect.objectContaining({ line: lastLine + 1, column: 'id', detail: 'repeats the id on line 12' }),
      expect.objectContaining({ line: lastLine + 2, column: 'id', detail: `repeats the id on line ${45_000 + staged + 1}` }),
    ]);
  });
});

/** A piece whose bytes the test sends when it chooses, as a slow client does. */
function heldBody(): { body: ReadableStream<Uint8Array>; send: (text: string) => void; end: () => void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return { body, send: (text) => controller.enqueue(utf8.encode(text)), end: () => controller.close() };
}

/** Waits for an append to take the upload's lock; returns its token (the lock's value). */
async function lockTaken(id: string, other?: string): Promise<string> {
  const key = uploadKeys(id).append;
  for (;;) {
    const token = await redis.get<string>(key);
    if (token !== null && token !== other) return token;
    await scheduler.wait(5);
  }
}

/** Makes the upload's append lock expire now, as it does when its holder stalls past APPEND_LOCK_MS. */
async function expireLock(id: string): Promise<void> {
  const key = uploadKeys(id).append;
  await redis.pexpire(key, 1);
  while ((await redis.exists(key)) === 1) await scheduler.wait(5);
}

describe('Resumable uploads: an append that stalls past its lock', () => {
  const header = 'id,firstName,lastName,dateOfBirth\n';

  it('writes nothing once another append took over: 409 with the offset, the newcomer’s state intact', async () => {
    const prefix = uniqueId('stall');
    const [stale, fresh, last] = ['Ash,Ketchum', 'Misty,Waterflower', 'Brock,Harrison'].map((name, i) => `${prefix}-${i},${name},2010-05-22\n`) as [string, string, string];
    const { id } = await create('trainer', utf8.encode(header));
    const keys = uploadKeys(id);
    const slow = heldBody();
    const stalled = patch(id, header.length, slow.body, false);
    slow.send(stale);
    const staleToken = await lockTaken(id);
    await expireLock(id);
    // The newcomer takes the lock and is still receiving when the stalled append wakes up.
    const next = heldBody();
    const newcomer = patch(id, header.length, next.body, false);
    next.send(fresh);
    const freshToken = await lockTaken(id, staleToken);
    slow.end();
    const refused = await stalled;
    const problem = await expectProblem(refused, 409);
    expect(refused.headers.get('Upload-Offset')).toBe(String(header.length));
    expect(problem['expected-offset']).toBe(header.length);
    // It wrote nothing: no chunk, no id, the lock still the newcomer's, the offset unmoved.
    expect(await redis.llen(keys.chunks)).toBe(0);
    expect(await redis.exists(keys.ids)).toBe(0);
    expect(await redis.get(keys.append)).toBe(freshToken);
    expect((await call(`/uploads/${id}`, { method: 'HEAD' })).headers.get('Upload-Offset')).toBe(String(header.length));
    next.end();
    const won = await newcomer;
    expect(won.status, await won.clone().text()).toBe(204);
    expect(won.headers.get('Upload-Offset')).toBe(String(header.length + fresh.length));
    const done = await patch(id, header.length + fresh.length, utf8.encode(last), true);
    expect(await done.json()).toMatchObject({ status: 'staged', rows: 2 });
    expect(await (await call(`/uploads/${id}/commit`, { method: 'POST' })).json()).toMatchObject({ inserted: 2 });
    expect((await call(`/trainers/${prefix}-0`)).status).toBe(404);
    expect((await call(`/trainers/${prefix}-1`)).status).toBe(200);
  });

  it('cannot discard the upload it lost: a piece over UPLOAD_MAX_BYTES after the lock expired is a 409, the upload stays', async () => {
    const prefix = uniqueId('stallbig');
    const limits = { UPLOAD_MAX_BYTES: String(header.length + 200) };
    const { id } = await create('trainer', utf8.encode(header));
    const slow = heldBody();
    const stalled = callWithBindings(limits, `/uploads/${id}`, {
      method: 'PATCH',
      body: slow.body,
      headers: { 'Content-Type': 'application/partial-upload', 'Upload-Offset': String(header.length), 'Upload-Complete': '?1' },
    });
    slow.send(`${prefix}-0,Ash,Ketchum,2010-05-22\n`);
    await lockTaken(id);
    await expireLock(id);
    const fresh = `${prefix}-1,Misty,Waterflower,2011-07-03\n`;
    const newcomer = await patch(id, header.length, utf8.encode(fresh), false);
    expect(newcomer.status, await newcomer.clone().text()).toBe(204);
    // Over the file's limit: the stalled append would discard the upload, if it still held it.
    slow.send(`${prefix}-2,${'x'.repeat(300)},Oak,2000-01-01\n`);
    slow.end();
    const refused = await stalled;
    await expectProblem(refused, 409);
    expect(refused.headers.get('Upload-Offset')).toBe(String(header.length + fresh.length));
    const done = await patch(id, header.length + fresh.length, utf8.encode(`${prefix}-3,Brock,Harrison,2012-01-01\n`), true);
    expect(await done.json()).toMatchObject({ status: 'staged', rows: 2 });
  });
});

describe('Resumable uploads: limits per piece, per upload and per key', () => {
  const header = 'id,firstName,lastName,dateOfBirth\n';
  const rows = (prefix: string, from: number, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${from + i},Limit,Test,2000-01-01\n`).join('');
  const withBindings = (bindings: Record<string, string>, path: string, init: RequestInit & { key?: string }) => callWithBindings(bindings, path, init);
  const createWith = async (bindings: Record<string, string>, first: string, key?: string) => {
    const response = await withBindings(bindings, '/uploads?type=trainer', { method: 'POST', body: first, key, headers: { 'Content-Type': 'text/csv', 'Upload-Complete': '?0' } });
    expect(response.status, await response.clone().text()).toBe(201);
    return { id: response.headers.get('Location')!.split('/').pop()!, offset: Number(response.headers.get('Upload-Offset')), limit: response.headers.get('Upload-Limit') };
  };
  const patchWith = (bindings: Record<string, string>, id: string, offset: number, piece: string, complete: boolean, key?: string) =>
    withBindings(bindings, `/uploads/${id}`, {
      method: 'PATCH',
      body: piece,
      key,
      headers: { 'Content-Type': 'application/partial-upload', 'Upload-Offset': String(offset), 'Upload-Complete': complete ? '?1' : '?0' },
    });

  it('a piece over UPLOAD_MAX_PIECE_BYTES is refused (413) before it is read, and the upload stays where it was', async () => {
    const limits = { UPLOAD_MAX_PIECE_BYTES: '200' };
    const prefix = uniqueId('piece');
    const { id, offset, limit } = await createWith(limits, header);
    expect(limit).toContain('max-append-size=200');
    const problem = await expectProblem(await patchWith(limits, id, offset, rows(prefix, 0, 20), true), 413);
    expect(problem.maxPieceBytes).toBe(200);
    const head = await call(`/uploads/${id}`, { method: 'HEAD' });
    expect(head.headers.get('Upload-Offset')).toBe(String(offset));
    const done = await patchWith(limits, id, offset, rows(prefix, 0, 3), true);
    expect(await done.json()).toMatchObject({ status: 'staged', rows: 3 });
  });

  it('the file over UPLOAD_MAX_BYTES or UPLOAD_MAX_ROWS across pieces: 413, the upload discarded', async () => {
    const prefix = uniqueId('file');
    const bytesLimit = { UPLOAD_MAX_BYTES: String(header.length + 200) };
    const big = await createWith(bytesLimit, header + rows(prefix, 0, 3));
    await expectProblem(await patchWith(bytesLimit, big.id, big.offset, rows(prefix, 3, 6), false), 413);
    await expectProblem(await call(`/uploads/${big.id}`), 404);

    const rowLimit = { UPLOAD_MAX_ROWS: '5' };
    const many = await createWith(rowLimit, header + rows(prefix, 10, 3));
    const refused = await expectProblem(await patchWith(rowLimit, many.id, many.offset, rows(prefix, 13, 3), false), 413);
    expect(refused.maxRows).toBe(5);
    expect(await redis.exists(...Object.values(uploadKeys(many.id)))).toBe(0);
  });

  it('a key’s staging quota counts every piece; past it 429 and the upload is discarded, its bytes given back', async () => {
    const writer = await createKey({ scopes: ['write'] });
    const quota = { UPLOAD_QUOTA_BYTES: '4000' };
    const prefix = uniqueId('quota');
    const upload = await createWith(quota, header + rows(prefix, 0, 20), writer.key);
    let offset = upload.offset;
    const next = await patchWith(quota, upload.id, offset, rows(prefix, 20, 20), false, writer.key);
    expect(next.status).toBe(204);
    offset = Number(next.headers.get('Upload-Offset'));
    const over = await patchWith(quota, upload.id, offset, rows(prefix, 40, 200), true, writer.key);
    expect(await expectProblem(over, 429)).toMatchObject({ quotaBytes: 4000 });
    expect(Number(over.headers.get('Retry-After'))).toBeGreaterThan(0);
    await expectProblem(await call(`/uploads/${upload.id}`), 404);
    // Everything the upload counted, over all three pieces, was given back.
    expect(Number(await redis.get(`quota:staged-bytes:${writer.id}`))).toBe(0);
    const small = await withBindings(quota, '/uploads?type=trainer', { method: 'POST', key: writer.key, body: header + rows(uniqueId('q'), 0, 20), headers: { 'Content-Type': 'text/csv' } });
    expect(small.status, await small.clone().text()).toBe(201);
  });
});
