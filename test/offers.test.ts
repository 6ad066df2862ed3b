/**
 * Offers: making, reading, listing, accepting, declining, withdrawing; expiry; stale offers;
 * Idempotency-Key; who may do what (a third trainer's key on every offer route).
 */
import { Redis } from '@upstash/redis/cloudflare';
import { describe, expect, inject, it } from 'vitest';
import { idempotencySlot } from '../src/http/idempotency.ts';
import { encodeCursor } from '../src/platform/pagination.ts';
import { ADMIN_KEY, call, expectedTrips, expectProblem, roundTrips } from './support/api.ts';
import { historyOf, ownerOf, postExchange, type Exchange } from './support/exchanges.ts';
import { createPokemon, uniqueId } from './support/fixtures.ts';
import { createKey } from './support/keys.ts';
import { acceptOffer, declineOffer, makeOffer, postOffer, readOffer, trainerWithKey, withdrawOffer, type AcceptedOffer, type Offer } from './support/offers.ts';

const bindings = inject('bindings');
const redis = new Redis({ url: bindings.UPSTASH_REDIS_REST_URL, token: bindings.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });

/** Ash (2 Pokémon) and Misty (1), each with a trainer key, and a third trainer who is in nothing. */
async function setUp() {
  const [ash, misty, brock] = await Promise.all([trainerWithKey(2), trainerWithKey(1), trainerWithKey(1)]);
  return { ash, misty, brock };
}

describe('POST /offers', () => {
  it('offers a trade with a trainer key: 201, Location, from = the key’s trainer, open for 24 h, one round trip', async () => {
    const { ash, misty } = await setUp();
    // The key's first use verifies it (its own round trip); the offer itself is one statement.
    await call('/species/pikachu', { key: ash.key });
    const response = await postOffer(ash.key, { to: misty.id, give: ash.pokemon, want: misty.pokemon });
    expect(response.status, await response.clone().text()).toBe(201);
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1, redis: 1 }));
    const offer = (await response.json()) as Offer;
    expect(offer).toEqual({
      id: expect.stringMatching(/^of_[0-9a-f]{32}$/),
      from: ash.id,
      to: misty.id,
      give: ash.pokemon,
      want: misty.pokemon,
      status: 'open',
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
      closedAt: null,
      exchangeId: null,
    });
    expect(Date.parse(offer.expiresAt) - Date.parse(offer.createdAt)).toBe(24 * 60 * 60 * 1000);
    expect(response.headers.get('Location')).toBe(`/offers/${offer.id}`);
    expect(await readOffer(offer.id)).toEqual(offer);
    // Nothing moved.
    expect(await ownerOf(ash.pokemon[0]!)).toBe(ash.id);
  });

  it('lets a write key name `from`; a trainer key naming another trainer is refused (403)', async () => {
    const { ash, misty } = await setUp();
    const writer = await createKey({ scopes: ['write'] });
    const byWriter = await postOffer(writer.key, { from: ash.id, to: misty.id, give: [ash.pokemon[0]], want: [] });
    expect(byWriter.status).toBe(201);
    expect(((await byWriter.json()) as Offer).from).toBe(ash.id);
    const missingFrom = await expectProblem(await postOffer(writer.key, { to: misty.id, give: [ash.pokemon[0]], want: [] }), 422);
    expect(missingFrom.errors).toEqual([{ pointer: '/from', detail: expect.any(String) }]);
    const forged = await expectProblem(await postOffer(misty.key, { from: ash.id, to: misty.id, give: [], want: [misty.pokemon[0]] }), 403);
    expect(forged).toMatchObject({ type: '/problems/forbidden', trainer: misty.id });
    // Naming itself is fine.
    expect((await postOffer(ash.key, { from: ash.id, to: misty.id, give: [ash.pokemon[0]], want: [] })).status).toBe(201);
  });

  it('answers 404 for an unknown `to`, 422 for `to` = `from`, and lists every invalid field', async () => {
    const { ash } = await setUp();
    const ghost = uniqueId('ghost');
    const unknown = await expectProblem(await postOffer(ash.key, { to: ghost, give: ash.pokemon, want: [] }), 404);
    expect(unknown).toMatchObject({ unknownTrainers: [ghost], errors: [{ pointer: '/to', detail: expect.stringContaining(ghost) }] });
    // An admin key names `from`: an unknown one is named at its own field.
    const unknownFrom = await expectProblem(await postOffer(ADMIN_KEY, { from: ghost, to: ash.id, give: ash.pokemon, want: [] }), 404);
    expect(unknownFrom).toMatchObject({ unknownTrainers: [ghost], errors: [{ pointer: '/from', detail: `there is no trainer "${ghost}"` }] });
    const selfByAdmin = await expectProblem(await postOffer(ADMIN_KEY, { from: ash.id, to: ash.id, give: ash.pokemon, want: [] }), 422);
    expect(selfByAdmin.errors).toEqual([{ pointer: '/to', detail: expect.stringContaining('from') }]);
    const self = await expectProblem(await postOffer(ash.key, { to: ash.id, give: ash.pokemon, want: [] }), 422);
    expect(self.errors).toEqual([{ pointer: '/to', detail: expect.any(String) }]);

    const many = Array.from({ length: 101 }, (_, i) => `p${i}`);
    for (const [body, pointers] of [
      [{ to: 'x', give: [], want: [] }, ['/give']],
      [{ to: 'x', give: ['a', 'b'], want: ['a'] }, ['/want/0']],
      [{ to: 'x', give: many, want: [] }, ['/give']],
      [{ to: 'x', give: ['a'], want: [], expiresInSeconds: 0 }, ['/expiresInSeconds']],
      [{ to: 'x', give: ['a'], want: [], expiresInSeconds: 7 * 24 * 3600 + 1 }, ['/expiresInSeconds']],
      [{ to: 'x', give: ['a'], want: [], expiresInSeconds: 1.5 }, ['/expiresInSeconds']],
      [{ to: 'bad id!', give: ['a'], want: [], extra: 1 }, ['/extra', '/to']],
    ] as const) {
      const problem = await expectProblem(await postOffer(ash.key, body), 422);
      expect((problem.errors as { pointer: string }[]).map((e) => e.pointer).sort(), JSON.stringify(body).slice(0, 60)).toEqual(pointers);
    }
  });

  it('answers 409 listing each Pokémon not with the trainer the offer says, with its owner now', async () => {
    const { ash, misty, brock } = await setUp();
    const ghost = uniqueId('missingno');
    const response = await postOffer(ash.key, { to: misty.id, give: [ash.pokemon[0], misty.pokemon[0]], want: [brock.pokemon[0], ghost] });
    const problem = await expectProblem(response, 409);
    expect(problem.conflicts).toEqual(
      expect.arrayContaining([
        { pokemon: misty.pokemon[0], expectedOwner: ash.id, owner: misty.id },
        { pokemon: brock.pokemon[0], expectedOwner: misty.id, owner: brock.id },
        { pokemon: ghost, expectedOwner: misty.id, owner: null },
      ]),
    );
    expect(problem.conflicts).toHaveLength(3);
    expect((problem.errors as { pointer: string }[]).map((e) => e.pointer).sort()).toEqual(['/give/1', '/want/0', '/want/1']);
    const listed = (await (await call(`/offers?trainer=${ash.id}`)).json()) as { data: Offer[] };
    expect(listed.data).toEqual([]);
  });

  it('replays the first answer for the same Idempotency-Key and makes one offer', async () => {
    const { ash, misty } = await setUp();
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    const body = { to: misty.id, give: [ash.pokemon[0]], want: [] };
    const first = await postOffer(ash.key, body, headers);
    expect(first.status).toBe(201);
    const firstBody = (await first.json()) as Offer;
    const retry = await postOffer(ash.key, body, headers);
    expect(retry.headers.get('Idempotent-Replayed')).toBe('true');
    expect(await retry.json()).toEqual(firstBody);
    // And after a lost answer (the slot gone), the derived id finds the same offer.
    await redis.del(idempotencySlot(ash.keyId, 'offers', headers['Idempotency-Key']));
    const again = await postOffer(ash.key, body, headers);
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(firstBody);
    expect(await readOffers(ash.id)).toHaveLength(1);
  });
});

async function readOffers(trainer: string, query = ''): Promise<Offer[]> {
  const response = await call(`/offers?trainer=${trainer}&limit=100${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: Offer[] }).data;
}

describe('GET /offers/:id and GET /offers', () => {
  it('shows an offer to its two trainers and write/admin keys; to another trainer it does not exist; without a key: 401', async () => {
    const { ash, misty, brock } = await setUp();
    const offer = await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[0]], want: [] });
    for (const key of [ash.key, misty.key, (await createKey({ scopes: ['write'] })).key]) {
      expect(await (await call(`/offers/${offer.id}`, { key })).json()).toEqual(offer);
    }
    await expectProblem(await call(`/offers/${offer.id}`, { key: brock.key }), 404);
    await expectProblem(await call(`/offers/${offer.id}`, { key: null }), 401);
    await expectProblem(await call(`/offers/${offer.id}`, { key: (await createKey({ scopes: ['read'] })).key }), 403);
    await expectProblem(await call(`/offers/of_${'0'.repeat(32)}`), 404);
    await expectProblem(await call('/offers/nonsense'), 404);
  });

  it('lists the key’s trainer’s offers newest first, by role and status, keyset-paginated; other trainers see none', async () => {
    const { ash, misty, brock } = await setUp();
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[i % 2]!], want: [] }));
    const received = await makeOffer(misty.key, { to: ash.id, give: [misty.pokemon[0]!], want: [] });
    expect((await declineOffer(ash.key, received.id)).status).toBe(200);

    const pages: Offer[] = [];
    let cursor: string | null = null;
    do {
      const response = await call(`/offers?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: ash.key });
      expect(roundTrips(response)).toEqual(expectedTrips({ reads: 1, redis: 1 }));
      const page = (await response.json()) as { data: Offer[]; nextCursor: string | null };
      pages.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(pages.map((o) => o.id)).toEqual([received, ...made.toReversed()].map((o) => o.id));

    const ids = async (query: string, key = ash.key) => {
      const response = await call(`/offers?limit=100${query}`, { key });
      expect(response.status, await response.clone().text()).toBe(200);
      return ((await response.json()) as { data: Offer[] }).data.map((o) => o.id);
    };
    expect(await ids('&role=from')).toEqual(made.toReversed().map((o) => o.id));
    expect(await ids('&role=to')).toEqual([received.id]);
    expect(await ids('&status=declined')).toEqual([received.id]);
    expect(await ids('&status=open&role=to')).toEqual([]);
    expect(await ids('', brock.key)).toEqual([]);
    // A write key: any trainer's.
    expect(await ids(`&trainer=${misty.id}&role=to`, (await createKey({ scopes: ['write'] })).key)).toEqual(made.toReversed().map((o) => o.id));
    // A trainer key asking for another trainer's offers; role without a trainer; bad values.
    await expectProblem(await call(`/offers?trainer=${misty.id}`, { key: brock.key }), 403);
    await expectProblem(await call('/offers?role=from'), 422);
    const bad = await expectProblem(await call('/offers?status=lost&role=both&cursor=zzz', { key: ash.key }), 422);
    expect((bad.errors as { parameter: string }[]).map((e) => e.parameter).sort()).toEqual(['role', 'status']);
    await expectProblem(await call('/offers?cursor=zzz', { key: ash.key }), 422);
    // A well-formed cursor naming no offer.
    const gone = await expectProblem(await call(`/offers?cursor=${encodeCursor(`of_${'0'.repeat(32)}`)}`, { key: ash.key }), 422);
    expect(gone.errors).toEqual([expect.objectContaining({ parameter: 'cursor' })]);
  });
});

describe('POST /offers/:id/accept', () => {
  it('trades in one round trip: an exchange naming the offer, history pointing at it, the offer accepted', async () => {
    const { ash, misty } = await setUp();
    const offer = await makeOffer(ash.key, { to: misty.id, give: ash.pokemon, want: misty.pokemon });
    await call('/species/pikachu', { key: misty.key }); // the key's first use verifies it, in a round trip of its own
    const response = await acceptOffer(misty.key, offer.id);
    expect(response.status, await response.clone().text()).toBe(201);
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1, redis: 1 }));
    const accepted = (await response.json()) as AcceptedOffer;
    expect(accepted).toEqual({
      ...offer,
      status: 'accepted',
      closedAt: expect.any(String),
      exchangeId: accepted.exchange.id,
      exchange: {
        id: expect.stringMatching(/^ex_[0-9a-f]{32}$/),
        trainerA: ash.id,
        trainerB: misty.id,
        pokemonsA: ash.pokemon,
        pokemonsB: misty.pokemon,
        createdAt: expect.any(String),
        offerId: offer.id,
      },
    });
    expect(response.headers.get('Location')).toBe(`/exchanges/${accepted.exchange.id}`);
    expect(await (await call(`/exchanges/${accepted.exchange.id}`)).json()).toEqual(accepted.exchange);
    const { exchange, ...stored } = accepted;
    expect(await readOffer(offer.id)).toEqual(stored);
    for (const id of ash.pokemon) {
      expect(await ownerOf(id)).toBe(misty.id);
      expect((await historyOf(id)).at(-1)).toMatchObject({ trainer: misty.id, source: 'exchanged', exchangeId: exchange.id });
    }
    expect(await ownerOf(misty.pokemon[0]!)).toBe(ash.id);
    // A direct exchange has no offer.
    const direct = (await (await postExchange({ trainerA: ash.id, trainerB: misty.id, pokemonsA: [misty.pokemon[0]], pokemonsB: [] })).json()) as Exchange;
    expect(direct.offerId).toBeNull();
  });

  it('is for `to` alone: `from` and keys that are not trainer keys get 403, a third trainer 404, and nothing moves', async () => {
    const { ash, misty, brock } = await setUp();
    const offer = await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[0]], want: [] });
    expect((await expectProblem(await acceptOffer(ash.key, offer.id), 403)).detail).toContain(misty.id);
    await expectProblem(await acceptOffer(undefined, offer.id), 403);
    await expectProblem(await acceptOffer((await createKey({ scopes: ['write'] })).key, offer.id), 403);
    await expectProblem(await acceptOffer(brock.key, offer.id), 404);
    await expectProblem(await acceptOffer(misty.key, `of_${'f'.repeat(32)}`), 404);
    expect(await ownerOf(ash.pokemon[0]!)).toBe(ash.id);
    expect((await readOffer(offer.id)).status).toBe('open');
  });

  it('answers 410 once the offer is accepted, declined or withdrawn, saying which', async () => {
    const { ash, misty } = await setUp();
    const [a, b, c] = [
      await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[0]], want: [] }),
      await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[1]], want: [] }),
      await makeOffer(ash.key, { to: misty.id, give: [], want: [misty.pokemon[0]] }),
    ];
    expect((await acceptOffer(misty.key, a.id)).status).toBe(201);
    expect((await declineOffer(misty.key, b.id)).status).toBe(200);
    expect((await withdrawOffer(ash.key, c.id)).status).toBe(204);
    for (const [offer, status] of [[a, 'accepted'], [b, 'declined'], [c, 'withdrawn']] as const) {
      for (const response of [await acceptOffer(misty.key, offer.id), await declineOffer(misty.key, offer.id), await withdrawOffer(ash.key, offer.id)]) {
        const problem = await expectProblem(response, 410);
        expect(problem).toMatchObject({ type: '/problems/gone', offerStatus: status });
        expect(problem.detail).toContain(status);
      }
    }
    expect(await historyOf(ash.pokemon[0]!)).toHaveLength(2);
  });

  it('answers 409 when a Pokémon changed hands since the offer: nothing moves, the offer stays open', async () => {
    const { ash, misty, brock } = await setUp();
    const offer = await makeOffer(ash.key, { to: misty.id, give: ash.pokemon, want: misty.pokemon });
    // Another trade takes one of ash's Pokémon away meanwhile.
    expect((await postExchange({ trainerA: ash.id, trainerB: brock.id, pokemonsA: [ash.pokemon[1]], pokemonsB: [] })).status).toBe(201);
    const problem = await expectProblem(await acceptOffer(misty.key, offer.id), 409);
    expect(problem.conflicts).toEqual([{ pokemon: ash.pokemon[1], expectedOwner: ash.id, owner: brock.id }]);
    expect(problem.errors).toEqual([{ pointer: '/give/1', detail: expect.stringContaining(brock.id) }]);
    expect(await ownerOf(ash.pokemon[0]!)).toBe(ash.id);
    expect(await ownerOf(misty.pokemon[0]!)).toBe(misty.id);
    expect(await historyOf(misty.pokemon[0]!)).toHaveLength(1);
    expect((await readOffer(offer.id)).status).toBe('open');
    // Once the Pokémon is back, the same offer goes through.
    expect((await postExchange({ trainerA: brock.id, trainerB: ash.id, pokemonsA: [ash.pokemon[1]], pokemonsB: [] })).status).toBe(201);
    expect((await acceptOffer(misty.key, offer.id)).status).toBe(201);
  });

  it('answers 409 naming a Pokémon deleted since the offer, and 410 once a trainer of the offer no longer exists', async () => {
    const { ash, misty } = await setUp();
    const offer = await makeOffer(ash.key, { to: misty.id, give: ash.pokemon, want: [] });
    expect((await call(`/pokemon/${ash.pokemon[1]}`, { method: 'DELETE' })).status).toBe(204);
    const conflict = await expectProblem(await acceptOffer(misty.key, offer.id), 409);
    expect(conflict.conflicts).toEqual([{ pokemon: ash.pokemon[1], expectedOwner: ash.id, owner: null }]);
    expect(conflict.errors).toEqual([{ pointer: '/give/1', detail: `"${ash.pokemon[1]}" no longer exists` }]);
    expect((await readOffer(offer.id)).status).toBe('open');
    // The offering trainer leaves, with their Pokémon.
    expect((await call(`/trainers/${ash.id}?cascade=true`, { method: 'DELETE' })).status).toBe(204);
    const gone = await expectProblem(await acceptOffer(misty.key, offer.id), 410);
    expect(gone.unknownTrainers).toEqual([ash.id]);
    expect(gone.detail).toBe(`Offer "${offer.id}" cannot be accepted: trainer "${ash.id}" no longer exists.`);
    expect(await ownerOf(misty.pokemon[0]!)).toBe(misty.id);
  });

  it('with an Idempotency-Key replays the 201, also after a lost answer (the exchange id is derived)', async () => {
    const { ash, misty } = await setUp();
    const offer = await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[0]], want: [] });
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    const first = await acceptOffer(misty.key, offer.id, headers);
    expect(first.status).toBe(201);
    const firstBody = (await first.json()) as AcceptedOffer;
    const replay = await acceptOffer(misty.key, offer.id, headers);
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true');
    expect(await replay.json()).toEqual(firstBody);
    await redis.del(idempotencySlot(misty.keyId, 'offers.accept', headers['Idempotency-Key']));
    const retry = await acceptOffer(misty.key, offer.id, headers);
    expect(retry.status).toBe(201);
    expect(await retry.json()).toEqual(firstBody);
    expect(await historyOf(ash.pokemon[0]!)).toHaveLength(2);
    // Without the key, accepting again is 410.
    await expectProblem(await acceptOffer(misty.key, offer.id), 410);
  });
});

describe('POST /offers/:id/decline and DELETE /offers/:id', () => {
  it('decline is for `to` (200 declined), withdraw for `from` (204 withdrawn); the other party 403, a third trainer 404', async () => {
    const { ash, misty, brock } = await setUp();
    const [a, b] = [
      await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[0]], want: [] }),
      await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[1]], want: [] }),
    ];
    await expectProblem(await declineOffer(ash.key, a.id), 403);
    await expectProblem(await withdrawOffer(misty.key, b.id), 403);
    await expectProblem(await declineOffer(brock.key, a.id), 404);
    await expectProblem(await withdrawOffer(brock.key, b.id), 404);
    await expectProblem(await declineOffer(undefined, a.id), 403);
    await expectProblem(await withdrawOffer(undefined, b.id), 403);
    const declined = await declineOffer(misty.key, a.id);
    expect(declined.status).toBe(200);
    expect(await declined.json()).toEqual({ ...a, status: 'declined', closedAt: expect.any(String) });
    const withdrawn = await withdrawOffer(ash.key, b.id);
    expect(withdrawn.status).toBe(204);
    expect(await readOffer(b.id)).toMatchObject({ status: 'withdrawn', closedAt: expect.any(String) });
    expect(await ownerOf(ash.pokemon[0]!)).toBe(ash.id);
  });
});

describe('expiry', () => {
  it('an offer past expiresAt reads as expired and cannot be accepted, declined or withdrawn (410 expired)', async () => {
    const { ash, misty } = await setUp();
    const offer = await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[0]], want: [], expiresInSeconds: 1 });
    expect(Date.parse(offer.expiresAt) - Date.parse(offer.createdAt)).toBe(1000);
    // Poll until the database's clock says it expired (bounded), rather than sleeping a guess.
    const deadline = Date.now() + 5_000;
    let status = offer.status;
    while (status !== 'expired') {
      expect(Date.now(), 'the offer did not expire within 5 s').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await readOffer(offer.id)).status;
    }
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(offer.expiresAt));
    for (const response of [await acceptOffer(misty.key, offer.id), await declineOffer(misty.key, offer.id), await withdrawOffer(ash.key, offer.id)]) {
      const problem = await expectProblem(response, 410);
      expect(problem.offerStatus).toBe('expired');
      expect(problem.detail).toMatch(/expired/);
    }
    expect(await ownerOf(ash.pokemon[0]!)).toBe(ash.id);
    expect((await readOffers(ash.id, '&status=expired')).map((o) => o.id)).toEqual([offer.id]);
    expect(await readOffers(ash.id, '&status=open')).toEqual([]);
  });
});

describe('a third trainer’s key', () => {
  it('finds nothing on any offer route of an offer between two others', async () => {
    const { ash, misty, brock } = await setUp();
    const offer = await makeOffer(ash.key, { to: misty.id, give: [ash.pokemon[0]], want: [] });
    const routes: [string, string][] = [
      ['GET', `/offers/${offer.id}`],
      ['POST', `/offers/${offer.id}/accept`],
      ['POST', `/offers/${offer.id}/decline`],
      ['DELETE', `/offers/${offer.id}`],
    ];
    for (const [method, path] of routes) await expectProblem(await call(path, { method, key: brock.key }), 404);
    expect(await (await call('/offers', { key: brock.key })).json()).toEqual({ data: [], nextCursor: null });
    // Offering someone else's Pokémon is a 409, not a way to move them.
    await expectProblem(await postOffer(brock.key, { to: misty.id, give: [ash.pokemon[0]], want: [] }), 409);
    expect(await readOffer(offer.id)).toEqual(offer);
  });

  it('can still offer its own Pokémon to either of them', async () => {
    const { ash, brock } = await setUp();
    const extra = await createPokemon(brock.id);
    expect((await postOffer(brock.key, { to: ash.id, give: [extra.id], want: [ash.pokemon[0]] })).status).toBe(201);
  });
});
