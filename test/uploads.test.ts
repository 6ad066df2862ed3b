import { Redis } from '@upstash/redis/cloudflare';
import { describe, expect, inject, it } from 'vitest';
import { uploadKeys } from '../src/domain/uploads/staging.ts';
import { call, callWithBindings, expectProblem, roundTrips, expectedTrips } from './support/api.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';

const bindings = inject('bindings');
/** The Redis the uploads are staged in, read directly for what the API does not show (keys' expiry). */
const redis = new Redis({ url: bindings.UPSTASH_REDIS_REST_URL, token: bindings.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, enableAutoPipelining: false });

const TRAINER_HEADER = 'id,firstName,lastName,dateOfBirth';
const POKEMON_HEADER = 'id,nickname,species,level,owner,dateOfOwnership';
const SPECIES = ['Pikachu', 'Bulbasaur', 'Charmander', 'Squirtle', 'Mr. Mime', 'Eevee', 'Snorlax', 'Gengar', "Farfetch'd", 'Jigglypuff'];

const csv = { 'Content-Type': 'text/csv' };

/** POSTs a CSV body to /uploads?<query>. */
function upload(query: string, body: string, init: RequestInit = {}) {
  return call(`/uploads?${query}`, { method: 'POST', body, headers: csv, ...init });
}

function commit(id: string) {
  return call(`/uploads/${id}/commit`, { method: 'POST' });
}

/** The original system's sample shape: DD-MM-YYYY dates, CRLF, no trailing newline. */
function trainerFile(prefix: string, count: number): string {
  const rows = Array.from({ length: count }, (_, i) => `${prefix}-${i},Trainer${i},Surname${i},${String((i % 28) + 1).padStart(2, '0')}-0${(i % 9) + 1}-199${i % 10}`);
  return [TRAINER_HEADER, ...rows].join('\r\n');
}

function pokemonFile(prefix: string, count: number, owners: string[]): string {
  const rows = Array.from(
    { length: count },
    (_, i) => `${prefix}-${i},Nick${i},${SPECIES[i % SPECIES.length]},${(i % 100) + 1},${owners[i % owners.length]},${String((i % 28) + 1).padStart(2, '0')}-0${(i % 9) + 1}-2020`,
  );
  return [POKEMON_HEADER, ...rows].join('\r\n');
}

/** Stages a CSV (asserting 201) and returns the upload. */
async function stage(query: string, body: string) {
  const response = await upload(query, body);
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as Record<string, any>;
}

async function trainerExists(id: string): Promise<boolean> {
  const response = await call(`/trainers/${id}`);
  await response.body?.cancel();
  return response.status === 200;
}

describe('CSV uploads: stage and commit', () => {
  it('stages and commits the original sample files (20 trainers, 12 Pokémon)', async () => {
    const prefix = uniqueId('sample');
    const staged = await stage('type=trainer', trainerFile(prefix, 20));
    expect(staged).toMatchObject({ type: 'trainer', status: 'staged', rows: 20, id: expect.any(String), expiresAt: expect.any(String) });
    expect(staged.preview[0]).toEqual({ id: `${prefix}-0`, firstName: 'Trainer0', lastName: 'Surname0', dateOfBirth: '1990-01-01' });
    expect(await trainerExists(`${prefix}-0`)).toBe(false);

    const committed = await commit(staged.id);
    expect(committed.status).toBe(200);
    expect(await committed.json()).toMatchObject({ status: 'committed', inserted: 20, updated: 0, committedAt: expect.any(String) });
    expect(await trainerExists(`${prefix}-19`)).toBe(true);

    const owners = [`${prefix}-0`, `${prefix}-1`, `${prefix}-2`];
    const pokemon = await stage('type=pokemon', pokemonFile(`${prefix}-pk`, 12, owners));
    expect(pokemon.preview[4]).toMatchObject({ species: 'Mr. Mime', level: 5, owner: `${prefix}-1` });
    expect(((await (await commit(pokemon.id)).json()) as { inserted: number }).inserted).toBe(12);
    const owner = (await (await call(`/trainers/${prefix}-0`)).json()) as { pokemonCount: number };
    expect(owner.pokemonCount).toBe(4);

    const status = await call(`/uploads/${pokemon.id}`);
    expect(await status.json()).toMatchObject({ status: 'committed', rows: 12, inserted: 12 });
    expect(roundTrips(status)).toEqual(expectedTrips({ redis: 1 }));
  });

  it('accepts the original multipart form (fields type and data)', async () => {
    const form = new FormData();
    form.set('type', 'trainer');
    form.set('data', new Blob([trainerFile(uniqueId('form'), 3)], { type: 'text/csv' }), 'trainers.csv');
    const response = await call('/uploads', { method: 'POST', body: form });
    expect(response.status, await response.clone().text()).toBe(201);
    expect(await response.json()).toMatchObject({ type: 'trainer', rows: 3 });
  });

  it('accepts the form field data as text as well as a file', async () => {
    const form = new FormData();
    form.set('type', 'trainer');
    form.set('data', trainerFile(uniqueId('formtext'), 2));
    const response = await call('/uploads', { method: 'POST', body: form });
    expect(response.status, await response.clone().text()).toBe(201);
    expect(await response.json()).toMatchObject({ type: 'trainer', rows: 2 });
  });

  it('reads quoted fields with commas, quotes and line breaks, a BOM, LF endings and columns in any order', async () => {
    const id = uniqueId('quoted');
    const body = `\uFEFFdateOfBirth,lastName,id,firstName\n2001-02-03,"Oak, ""Professor""\nof Pallet",${id},"Sam\r\nuel"\n`;
    const staged = await stage('type=trainer', body);
    expect(staged.preview).toEqual([{ id, firstName: 'Sam\r\nuel', lastName: 'Oak, "Professor"\nof Pallet', dateOfBirth: '2001-02-03' }]);
    expect((await commit(staged.id)).status).toBe(200);
    expect(await (await call(`/trainers/${id}`)).json()).toMatchObject({ firstName: 'Sam\r\nuel', lastName: 'Oak, "Professor"\nof Pallet' });
  });

  it('commits in one step with commit=true', async () => {
    const prefix = uniqueId('onestep');
    const response = await upload('type=trainer&commit=true', trainerFile(prefix, 5));
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ status: 'committed', inserted: 5, rows: 5 });
    expect(await trainerExists(`${prefix}-4`)).toBe(true);
  });

  it('updates existing rows with onConflict=update', async () => {
    const trainer = await createTrainer({ firstName: 'Old' });
    const body = `${TRAINER_HEADER}\n${trainer.id},New,Name,2000-01-01\n${trainer.id}-new,Fresh,Name,2000-01-01`;
    const response = await upload('type=trainer&onConflict=update&commit=true', body);
    expect(await response.json()).toMatchObject({ status: 'committed', inserted: 1, updated: 1 });
    expect(await (await call(`/trainers/${trainer.id}`)).json()).toMatchObject({ firstName: 'New', lastName: 'Name' });
  });

  it('refuses an update that would make a trainer born after owning one of their Pokémon, naming the line', async () => {
    const trainer = await createTrainer({ dateOfBirth: '2000-01-01' });
    await createPokemon(trainer.id, { dateOfOwnership: '2010-01-01' });
    const body = `${TRAINER_HEADER}\n${trainer.id},Late,Born,2015-01-01`;
    const problem = await expectProblem(await upload('type=trainer&onConflict=update&commit=true', body), 422);
    expect(problem.errors).toEqual([
      expect.objectContaining({ line: 2, column: 'dateOfBirth', value: '2015-01-01', detail: 'is after 2010-01-01, when this trainer came to own one of their Pokémon' }),
    ]);
    expect(await (await call(`/trainers/${trainer.id}`)).json()).toMatchObject({ firstName: trainer.firstName, dateOfBirth: '2000-01-01' });
  });

  it('takes one species spelled several ways (one lookup), and stores each as the Pokédex names it', async () => {
    const owner = await createTrainer({ dateOfBirth: '2000-01-01' });
    const prefix = uniqueId('spelled');
    const spellings = ['Pikachu', 'PIKACHU', ' pikachu'];
    const rows = spellings.map((species, i) => `${prefix}-${i},Nick${i},${species},5,${owner.id},2020-01-01`);
    const response = await upload('type=pokemon&commit=true', [POKEMON_HEADER, ...rows].join('\n'));
    expect(response.status, await response.clone().text()).toBe(201);
    expect(await response.json()).toMatchObject({ status: 'committed', inserted: 3 });
    for (let i = 0; i < spellings.length; i++) expect(((await (await call(`/pokemon/${prefix}-${i}`)).json()) as { species: { name: string } }).species.name).toBe('Pikachu');
  });

  it('discards a staged upload with DELETE', async () => {
    const staged = await stage('type=trainer', trainerFile(uniqueId('discard'), 2));
    expect((await call(`/uploads/${staged.id}`, { method: 'DELETE' })).status).toBe(204);
    await expectProblem(await call(`/uploads/${staged.id}`), 404);
    await expectProblem(await commit(staged.id), 404);
    await expectProblem(await call(`/uploads/${staged.id}`, { method: 'DELETE' }), 404);
  });
});

describe('CSV uploads: validation', () => {
  it('counts every error but lists the first 1000, in file order', async () => {
    const rows = Array.from({ length: 2_500 }, (_, i) => `${uniqueId('many')}-${i},Trainer,Surname,31-02-1990`);
    const problem = await expectProblem(await upload('type=trainer', [TRAINER_HEADER, ...rows].join('\n')), 422);
    expect(problem.errorCount).toBe(2_500);
    expect(problem.errors).toHaveLength(1_000);
    expect(problem.errors.map((e: any) => e.line)).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 2));
  });

  it('echoes at most 100 characters of a bad value, never half a surrogate pair', async () => {
    const long = `${'x'.repeat(99)}😀${'y'.repeat(50)}`;
    const rows = [`${uniqueId('echo')}-1,${'a'.repeat(150)},Surname,1990-01-01`, `${uniqueId('echo')}-2,Ash,Ketchum,${long}`];
    const problem = await expectProblem(await upload('type=trainer', [TRAINER_HEADER, ...rows].join('\n')), 422);
    expect(problem.errors.map((e: any) => e.value)).toEqual([`${'a'.repeat(100)}…`, `${'x'.repeat(99)}…`]);
  });

  it('refuses a file with more rows than UPLOAD_MAX_ROWS with 413', async () => {
    const rows = Array.from({ length: 4 }, (_, i) => `${uniqueId('rows')}-${i},Trainer,Surname,1990-01-01`);
    const response = await callWithBindings({ UPLOAD_MAX_ROWS: '3' }, '/uploads?type=trainer', { method: 'POST', body: [TRAINER_HEADER, ...rows].join('\n'), headers: csv });
    expect(await expectProblem(response, 413)).toMatchObject({ maxRows: 3, detail: 'The file has more than 3 rows; split it into several uploads.' });
  });

  it('reports every bad row with its line, stages nothing and writes nothing', async () => {
    const prefix = uniqueId('bad');
    const existing = await createTrainer();
    const owner = await createTrainer();
    const lines = [
      POKEMON_HEADER,
      `${prefix}-1,Good,Pikachu,5,${owner.id},2020-01-01`, // line 2: valid
      `${prefix}-2,"Two\nlines",Pikachu,0,${owner.id},31-02-2020`, // line 3 (spans 3–4): level, date
      `${prefix}-1,Again,Pikachu,5,${owner.id},2020-01-01`, // line 5: duplicate id
      `${prefix}-3,Ghost,Notamon,5,nobody-${prefix},2999-01-01`, // line 6: species, owner, date
      `${prefix}-4,Short,Pikachu`, // line 7: field count
      `${prefix}-5,,Pikachu,5,${owner.id},2020-01-01`, // line 8: nickname
    ];
    const response = await upload('type=pokemon', lines.join('\n'));
    const problem = await expectProblem(response, 422);
    expect(problem.errorCount).toBe(8);
    expect(problem.errors.map((e: any) => [e.line, e.column])).toEqual([
      [3, 'level'],
      [3, 'dateOfOwnership'],
      [5, 'id'],
      [6, 'species'],
      [6, 'owner'],
      [6, 'dateOfOwnership'],
      [7, ''],
      [8, 'nickname'],
    ]);
    expect(problem.errors[2]).toEqual({ line: 5, column: 'id', value: `${prefix}-1`, detail: 'repeats the id on line 2' });
    expect(problem.errors[3]).toMatchObject({ value: 'Notamon', detail: expect.stringContaining('Pokédex') });

    // Ids that already exist are errors too (unless onConflict=update), found in the same batched query.
    const taken = await upload('type=trainer', `${TRAINER_HEADER}\n${existing.id},A,B,2000-01-01\n${prefix}-t,A,B,2000-01-01`);
    const takenProblem = await expectProblem(taken, 422);
    expect(takenProblem.errors).toEqual([{ line: 2, column: 'id', value: existing.id, detail: expect.stringContaining('already exists') }]);
    expect(roundTrips(taken)).toEqual(expectedTrips({ writes: 1 }));
    expect(await trainerExists(`${prefix}-t`)).toBe(false);
  });

  it('names missing, unknown and repeated columns', async () => {
    const response = await upload('type=trainer', 'id,firstName,colour,id\nx,y,z,x');
    const problem = await expectProblem(response, 422);
    expect(problem.errors.map((e: any) => [e.column, e.detail])).toEqual([
      ['colour', expect.stringContaining('is not a column')],
      ['id', 'appears twice in the header'],
      ['lastName', 'is missing from the header'],
      ['dateOfBirth', 'is missing from the header'],
    ]);
  });

  it('refuses empty files, header-only files, unknown types and malformed quoting', async () => {
    await expectProblem(await upload('type=trainer', ''), 422);
    await expectProblem(await upload('type=trainer', `${TRAINER_HEADER}\r\n`), 422);
    const unknown = await expectProblem(await upload('type=dragon', `${TRAINER_HEADER}\nx,y,z,2000-01-01`), 422);
    expect(unknown.errors).toEqual([{ parameter: 'type', detail: 'type must be trainer or pokemon.' }]);
    await expectProblem(await upload('', `${TRAINER_HEADER}\nx,y,z,2000-01-01`), 422);
    const quoting = await expectProblem(await upload('type=trainer', `${TRAINER_HEADER}\nx,"y"z,w,2000-01-01\nq,"open,w,2000-01-01`), 422);
    expect(quoting.errors.map((e: any) => [e.line, e.column])).toEqual([
      [2, 'firstName'],
      [3, 'firstName'],
    ]);
  });

  it('answers 415 to other content types and 413 past the byte and row limits', async () => {
    await expectProblem(await upload('type=trainer', '{}', { headers: { 'Content-Type': 'application/json' } }), 415);
    const body = trainerFile(uniqueId('limit'), 3);
    const post = (bindings: Record<string, string>) =>
      callWithBindings(bindings, '/uploads?type=trainer', { method: 'POST', body, headers: csv });
    const tooBig = await expectProblem(await post({ UPLOAD_MAX_BYTES: '100' }), 413);
    expect(tooBig.maxBytes).toBe(100);
    await expectProblem(await post({ UPLOAD_MAX_ROWS: '2' }), 413);
    // Without Content-Length the limit is enforced while streaming.
    const stream = new Blob([body]).stream();
    const streamed = await callWithBindings({ UPLOAD_MAX_BYTES: '100' }, '/uploads?type=trainer', {
      method: 'POST', body: stream, headers: csv, duplex: 'half',
    } as RequestInit);
    await expectProblem(streamed, 413);
  });
});

describe('CSV uploads: commit semantics', () => {
  it('answers 409 for a conflict created after staging, writes nothing, and succeeds after the fix', async () => {
    const prefix = uniqueId('race');
    const staged = await stage('type=trainer', trainerFile(prefix, 3));
    await createTrainer({ id: `${prefix}-1` });

    const refused = await commit(staged.id);
    const problem = await expectProblem(refused, 409);
    expect(problem).toMatchObject({ uploadId: staged.id, conflictCount: 1, conflicts: [{ id: `${prefix}-1`, column: 'id' }] });
    expect(await trainerExists(`${prefix}-0`)).toBe(false);
    expect(await (await call(`/uploads/${staged.id}`)).json()).toMatchObject({ status: 'staged' });

    expect((await call(`/trainers/${prefix}-1`, { method: 'DELETE' })).status).toBe(204);
    const retried = await commit(staged.id);
    expect(await retried.json()).toMatchObject({ status: 'committed', inserted: 3 });
  });

  it('answers 409 when an owner is deleted between staging and commit', async () => {
    const owner = await createTrainer();
    const staged = await stage('type=pokemon', pokemonFile(uniqueId('orphan'), 2, [owner.id]));
    expect((await call(`/trainers/${owner.id}`, { method: 'DELETE' })).status).toBe(204);
    const problem = await expectProblem(await commit(staged.id), 409);
    expect(problem.detail).toMatch(/^2 rows conflict with the database now; nothing was written\./);
    expect(problem.conflicts).toEqual([
      expect.objectContaining({ column: 'owner', value: owner.id }),
      expect.objectContaining({ column: 'owner', value: owner.id }),
    ]);
  });

  it('inserts the rows once when two commits race, and answers both the same', async () => {
    const staged = await stage('type=trainer', trainerFile(uniqueId('twice'), 50));
    const [a, b] = await Promise.all([commit(staged.id), commit(staged.id)]);
    const [bodyA, bodyB] = [await a.json(), await b.json()];
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(bodyA).toEqual(bodyB);
    expect(bodyA).toMatchObject({ inserted: 50, updated: 0 });
    const again = await commit(staged.id);
    expect(await again.json()).toEqual(bodyA);
    expect(roundTrips(again)).toEqual(expectedTrips({ redis: 1 }));
  });

  it('stages both keys of an upload to expire at its expiresAt, UPLOAD_TTL_SECONDS after staging', async () => {
    const response = await callWithBindings({ UPLOAD_TTL_SECONDS: '120' }, '/uploads?type=trainer', {
      method: 'POST',
      body: trainerFile(uniqueId('ttl'), 2),
      headers: csv,
    });
    expect(response.status).toBe(201);
    const { id, expiresAt } = (await response.json()) as { id: string; expiresAt: string };
    const keys = uploadKeys(id);
    const meta = (await redis.get<{ createdAt: string; expiresAt: string }>(keys.meta))!;
    expect(meta.expiresAt).toBe(expiresAt);
    expect(Date.parse(expiresAt) - Date.parse(meta.createdAt)).toBe(120_000);
    // Redis holds both keys until that instant (PTTL counts from now; allow for this request's own time).
    for (const k of [keys.meta, keys.chunks]) {
      const pttl = await redis.pttl(k);
      expect(pttl, k).toBeGreaterThan(0);
      expect(Math.abs(Date.now() + pttl - Date.parse(expiresAt)), k).toBeLessThan(2_000);
    }
    await redis.del(keys.meta, keys.chunks);
  });

  it('forgets an upload once its keys expire', async () => {
    const staged = await stage('type=trainer', trainerFile(uniqueId('gone'), 2));
    expect((await call(`/uploads/${staged.id}`)).status).toBe(200);
    // Its TTL running out, without waiting an hour for it: both keys expire at one instant, 50 ms from now.
    const keys = uploadKeys(staged.id);
    const at = Date.now() + 50;
    expect(await redis.pexpireat(keys.meta, at)).toBe(1);
    expect(await redis.pexpireat(keys.chunks, at)).toBe(1);
    // Poll the API instead of sleeping a fixed time: it must say 404 once the keys are gone.
    const deadline = Date.now() + 5_000;
    for (;;) {
      const response = await call(`/uploads/${staged.id}`);
      if (response.status === 404) {
        await expectProblem(response, 404);
        break;
      }
      expect(response.status).toBe(200);
      await response.body?.cancel();
      expect(Date.now(), 'the upload outlived its keys by 5 s').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Expired together: no chunks outlive their status.
    expect(await redis.exists(keys.meta, keys.chunks)).toBe(0);
    await expectProblem(await commit(staged.id), 404);
  });

  it('answers 404 to a commit whose chunks Redis lost (evicted) while its status remains, and writes nothing', async () => {
    const prefix = uniqueId('evicted');
    const staged = await stage('type=trainer', trainerFile(prefix, 2));
    expect(await redis.del(uploadKeys(staged.id).chunks)).toBe(1);
    const problem = await expectProblem(await commit(staged.id), 404);
    expect(problem.detail).toBe(`There is no staged upload "${staged.id}" (it may have expired).`);
    expect(await trainerExists(`${prefix}-0`)).toBe(false);
  });

  it('stages and commits 100,000 Pokémon in at most 5 round trips', { timeout: 60_000 }, async () => {
    const prefix = uniqueId('bulk');
    const trainers = await upload('type=trainer&commit=true', trainerFile(`${prefix}-t`, 1_000));
    expect(trainers.status).toBe(201);
    const owners = Array.from({ length: 1_000 }, (_, i) => `${prefix}-t-${i}`);

    const staged = await upload('type=pokemon', pokemonFile(prefix, 100_000, owners));
    expect(staged.status, await staged.clone().text()).toBe(201);
    const { id, rows } = (await staged.json()) as { id: string; rows: number };
    expect(rows).toBe(100_000);
    const committed = await commit(id);
    expect(committed.status, await committed.clone().text()).toBe(200);
    expect(await committed.json()).toMatchObject({ inserted: 100_000 });

    const [up, down] = [roundTrips(staged), roundTrips(committed)];
    expect(up.db + up.redis + down.db + down.redis).toBeLessThanOrEqual(5);
    const owner = (await (await call(`/trainers/${owners[7]}`)).json()) as { pokemonCount: number };
    expect(owner.pokemonCount).toBe(100);
  });

  /** Trainers with 100-character names: 40,000 of them stage about 9.4 MB, more than one 8 MiB database request. */
  function largeTrainerFile(prefix: string, count: number, lastLine?: string): string {
    const name = 'N'.repeat(100);
    const rows = Array.from({ length: count }, (_, i) => `${prefix}-${i},${name},${name},2000-01-01`);
    if (lastLine) rows.push(lastLine);
    return [TRAINER_HEADER, ...rows].join('\n');
  }

  it('takes back chunks it staged while reading when a later row is invalid', { timeout: 60_000 }, async () => {
    const prefix = uniqueId('late');
    const response = await upload('type=trainer', largeTrainerFile(prefix, 40_000, `${prefix}-x,A,B,not-a-date`));
    const problem = await expectProblem(response, 422);
    expect(problem.errors).toEqual([expect.objectContaining({ line: 40_002, column: 'dateOfBirth' })]);
    // One write of the first 8 MiB while reading, one delete of it: nothing stays staged.
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1, redis: 2 }));
  });

  it('commits an upload too large for one database request in parts, in one transaction', { timeout: 60_000 }, async () => {
    const prefix = uniqueId('parts');
    const staged = await upload('type=trainer', largeTrainerFile(prefix, 40_000));
    expect(staged.status, await staged.clone().text()).toBe(201);
    expect(roundTrips(staged)).toEqual(expectedTrips({ writes: 1, redis: 2 }));
    const { id } = (await staged.json()) as { id: string };
    const committed = await commit(id);
    expect(committed.status, await committed.clone().text()).toBe(200);
    expect(await committed.json()).toMatchObject({ inserted: 40_000 });
    // Two parts (a Redis read and a database write each; the first read also fetched the status), the statement, the status.
    expect(roundTrips(committed)).toEqual(expectedTrips({ writes: 3, redis: 3 }));
    expect(await trainerExists(`${prefix}-39999`)).toBe(true);
  });
});

describe('CSV uploads: files of more than one window of ids', () => {
  /** A 64-character id: a Pokémon row then queues ~210 characters of ids and references, so 45,000 rows make two 8 MiB windows. */
  const longId = (prefix: string, i: number) => `${prefix}-${i}-`.padEnd(64, 'x');
  const rows = (prefix: string, owners: string[], count: number) =>
    Array.from({ length: count }, (_, i) => `${longId(prefix, i)},Nick,Pikachu,5,${owners[i % owners.length]},2021-01-01`);

  async function longTrainers(prefix: string): Promise<string[]> {
    const owners = Array.from({ length: 10 }, (_, i) => longId(`${prefix}-t`, i));
    const committed = await upload('type=trainer&commit=true', [TRAINER_HEADER, ...owners.map((owner) => `${owner},A,B,1990-01-01`)].join('\n'));
    expect(committed.status, await committed.clone().text()).toBe(201);
    return owners;
  }

  it('finds repeats and existing ids of a later window, on their lines', { timeout: 120_000 }, async () => {
    const prefix = uniqueId('window');
    const owners = await longTrainers(prefix);
    const existing = (await createPokemon(owners[0]!, { id: longId(`${prefix}-old`, 0) })).id;
    const body = rows(prefix, owners, 45_000);
    body[44_000] = body[44_000]!.replace(longId(prefix, 44_000), longId(prefix, 3));
    body[44_500] = body[44_500]!.replace(longId(prefix, 44_500), existing);
    const problem = await expectProblem(await upload('type=pokemon', [POKEMON_HEADER, ...body].join('\n')), 422);
    expect(problem.errorCount).toBe(2);
    expect(problem.errors).toEqual([
      expect.objectContaining({ line: 44_002, column: 'id', detail: 'repeats the id on line 5' }),
      expect.objectContaining({ line: 44_502, column: 'id', value: existing, detail: expect.stringContaining('already exists') }),
    ]);
  });

  it('fills windows with ids alone too (onConflict=update, every row invalid): the ids go to Redis and are taken back', { timeout: 120_000 }, async () => {
    const prefix = uniqueId('idsonly');
    // 67 characters of ids per row and nothing else to look up: 130,000 rows are two windows.
    const body = Array.from({ length: 130_000 }, (_, i) => `${longId(prefix, i)},A,B,not-a-date`);
    const response = await upload('type=trainer&onConflict=update', [TRAINER_HEADER, ...body].join('\n'));
    const problem = await expectProblem(response, 422);
    expect(problem.errorCount).toBe(130_000);
    // The first window's ids recorded (~10 MB packed: three ~4 MiB batches), the second's looked up
    // among them, the record deleted with the upload; no database lookup (nothing valid to look up).
    expect(roundTrips(response)).toEqual(expectedTrips({ redis: 5 }));
  });

  it('stages them with a lookup per window, and keeps none of their ids once staged', { timeout: 120_000 }, async () => {
    const prefix = uniqueId('windows');
    const owners = await longTrainers(prefix);
    const response = await upload('type=pokemon', [POKEMON_HEADER, ...rows(prefix, owners, 45_000)].join('\n'));
    expect(response.status, await response.clone().text()).toBe(201);
    const { id, rows: staged } = (await response.json()) as { id: string; rows: number };
    expect(staged).toBe(45_000);
    // A lookup per window; the first window's rows written before its lookup, its ids recorded, the second's looked up among them, the rest written.
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 2, redis: 4 }));
    expect(await redis.exists(uploadKeys(id).ids)).toBe(0);
  });
});

describe('non-UTF-8 files', () => {
  it('answers 422 with the line where the bad bytes start, and stages nothing', async () => {
    const prefix = uniqueId('latin1');
    const head = new TextEncoder().encode(`${TRAINER_HEADER}\n${prefix}-0,Ok,Row,2000-01-01\n${prefix}-1,Ren`);
    const latin1 = new Uint8Array([0xe9, 0x65]); // "ée" in Latin-1: not UTF-8
    const tail = new TextEncoder().encode(',Smith,2000-01-01\n');
    const body = new Uint8Array([...head, ...latin1, ...tail]);
    const response = await call('/uploads?type=trainer', { method: 'POST', body, headers: csv });
    const problem = await expectProblem(response, 422);
    expect(problem).toMatchObject({ errorCount: 1, errors: [{ line: 3, detail: expect.stringContaining('UTF-8') }] });
    expect(await trainerExists(`${prefix}-0`)).toBe(false);
  });

  it('answers 422 to a file that ends inside a UTF-8 character', async () => {
    const prefix = uniqueId('cut');
    const head = new TextEncoder().encode(`${TRAINER_HEADER}\n${prefix}-0,Ok,Row,2000-01-01\n${prefix}-1,Ren,Smith,2000-01-01\n`);
    // The first two bytes of "€" (E2 82 AC), and no third.
    const body = new Uint8Array([...head, 0xe2, 0x82]);
    const problem = await expectProblem(await call('/uploads?type=trainer', { method: 'POST', body, headers: csv }), 422);
    expect(problem).toMatchObject({ errorCount: 1, errors: [{ line: 4, detail: expect.stringContaining('UTF-8') }] });
    expect(await trainerExists(`${prefix}-0`)).toBe(false);
  });
});
