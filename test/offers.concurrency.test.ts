/**
 * Offers under concurrency: many accepts of one offer, and a storm of offers accepted, withdrawn
 * and declined while direct exchanges trade the same Pokémon — on PostgreSQL the requests really
 * overlap, on PGlite they queue. Afterwards the exchange invariants must hold for both kinds of
 * trade together.
 */
import { describe, expect, it } from 'vitest';
import { call } from './support/api.ts';
import { historyOf, ownerOf, postExchange, type Exchange } from './support/exchanges.ts';
import { acceptOffer, declineOffer, makeOffer, postOffer, trainerWithKey, withdrawOffer, type AcceptedOffer, type Offer } from './support/offers.ts';
import { checkTradeInvariants, fireAll, randomTrades, SEED, seeded as seededIn, successfulTrades } from './support/storm.ts';

const seeded = (body: (next: () => number) => Promise<void>) => seededIn('test/offers.concurrency.test.ts', body);

describe('offers under concurrency', () => {
  it('10 concurrent accepts of one offer: exactly one exchange, nine 410', async () => {
    const [ash, misty] = await Promise.all([trainerWithKey(2), trainerWithKey(1)]);
    const offer = await makeOffer(ash.key, { to: misty.id, give: ash.pokemon, want: misty.pokemon });
    const results = await fireAll(Array.from({ length: 10 }, () => () => acceptOffer(misty.key, offer.id)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array(9).fill(410)]);
    for (const r of results.filter((r) => r.status === 410)) expect(r.body).toMatchObject({ type: '/problems/gone', offerStatus: 'accepted' });
    const exchange = (results.find((r) => r.status === 201)!.body as AcceptedOffer).exchange;
    const listed = ((await (await call(`/exchanges?trainer=${misty.id}`)).json()) as { data: Exchange[] }).data;
    expect(listed).toEqual([exchange]);
    for (const id of ash.pokemon) {
      expect(await ownerOf(id)).toBe(misty.id);
      expect((await historyOf(id)).map((h) => h.exchangeId)).toEqual([null, exchange.id]);
    }
  });

  it('a storm of offers accepted, withdrawn and declined while exchanges trade the same Pokémon', seeded(async (next) => {
    const people = await Promise.all(Array.from({ length: 4 }, () => trainerWithKey(4)));
    const byId = new Map(people.map((p) => [p.id, p]));
    const initial = new Map(people.flatMap((p) => p.pokemon.map((id) => [id, p.id] as const)));
    const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)]!;

    // Offers valid when made, over overlapping Pokémon, on both legs: most go stale as others trade.
    const offers: Offer[] = [];
    for (let i = 0; i < 40; i++) {
      const from = pick(people);
      const to = pick(people.filter((p) => p !== from));
      const give = from.pokemon.filter(() => next() < 0.3);
      const want = to.pokemon.filter(() => next() < 0.3);
      if (give.length + want.length === 0) give.push(pick(from.pokemon));
      offers.push(await makeOffer(from.key, { to: to.id, give, want }));
    }
    // Every offer accepted; a quarter also withdrawn and a quarter also declined at the same moment;
    // direct exchanges over the same Pokémon in among them; a few new offers too.
    const requests: { kind: string; offer?: Offer; send: () => Promise<Response> }[] = [];
    for (const offer of offers) {
      requests.push({ kind: 'accept', offer, send: () => acceptOffer(byId.get(offer.to)!.key, offer.id) });
      const roll = next();
      if (roll < 0.25) requests.push({ kind: 'withdraw', offer, send: () => withdrawOffer(byId.get(offer.from)!.key, offer.id) });
      else if (roll < 0.5) requests.push({ kind: 'decline', offer, send: () => declineOffer(byId.get(offer.to)!.key, offer.id) });
    }
    for (const body of randomTrades(60, [...byId.keys()], [...initial.keys()], next)) requests.push({ kind: 'exchange', send: () => postExchange(body) });
    for (let i = 0; i < 10; i++) {
      const from = pick(people);
      const to = pick(people.filter((p) => p !== from));
      requests.push({ kind: 'offer', send: () => postOffer(from.key, { to: to.id, give: [pick(from.pokemon)], want: [] }) });
    }
    for (let i = requests.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [requests[i], requests[j]] = [requests[j]!, requests[i]!];
    }

    const results = await fireAll(requests.map((r) => r.send));
    const outcomes = requests.map((r, i) => ({ ...r, ...results[i]! }));
    const allowed: Record<string, number[]> = { accept: [201, 409, 410], withdraw: [204, 410], decline: [200, 410], exchange: [201, 409], offer: [201, 409] };
    for (const o of outcomes) expect(allowed[o.kind], `${o.kind} ${o.status} ${JSON.stringify(o.body)}`).toContain(o.status);

    // Each offer ended one way at most: accepted xor withdrawn xor declined (or still open after a 409).
    for (const offer of offers) {
      const mine = outcomes.filter((o) => o.offer === offer);
      const wins = mine.filter((o) => [200, 201, 204].includes(o.status));
      expect(wins.length, `offer ${offer.id}: ${mine.map((o) => `${o.kind} ${o.status}`).join(', ')}`).toBeLessThanOrEqual(1);
      const stored = (await (await call(`/offers/${offer.id}`)).json()) as Offer;
      const expected = wins[0] === undefined ? 'open' : { accept: 'accepted', withdraw: 'withdrawn', decline: 'declined' }[wins[0].kind as 'accept'];
      expect(stored.status, offer.id).toBe(expected);
    }

    // The exchange invariants over both kinds of trade together.
    const accepted = outcomes.filter((o) => o.kind === 'accept' && o.status === 201).map((o) => (o.body as AcceptedOffer).exchange);
    const direct = successfulTrades(results.filter((_, i) => requests[i]!.kind === 'exchange'));
    const created = new Map<string, Exchange>([...direct, ...accepted.map((e) => [e.id, e] as const)]);
    console.log(`[offers storm] TEST_SEED=${SEED}: ${accepted.length} offers accepted, ${direct.size} direct exchanges, ${results.length} requests`);
    expect(accepted.length).toBeGreaterThan(0);
    await checkTradeInvariants([...byId.keys()], initial, created);
    for (const exchange of accepted) expect(exchange.offerId).not.toBeNull();
    for (const exchange of direct.values()) expect(exchange.offerId).toBeNull();
  }));
});
