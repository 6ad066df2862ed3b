import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import * as offers from '../../domain/offers.ts';
import { requestIds } from '../../domain/request-ids.ts';
import type { AppEnv } from '../../env.ts';
import { idempotent } from '../../http/idempotency.ts';
import { decodeCursor, invalidCursor, toPage } from '../../platform/pagination.ts';
import { Problem } from '../../platform/problem.ts';
import { invalid } from '../../platform/validation.ts';
import type * as routes from './offers.routes.ts';

const notFound = (id: string) => new Problem('not-found', `There is no offer "${id}".`);

/** The trainer whose key this is; only trainers accept, decline and withdraw their offers. */
function actingTrainer(c: Context<AppEnv>, verb: string): string {
  const trainer = c.var.principal?.trainer;
  if (trainer === undefined) throw new Problem('forbidden', `Only a trainer can ${verb} an offer, with its own trainer key: a trade needs that trainer's consent.`);
  return trainer;
}

export const createOffer: RouteHandler<typeof routes.createOffer, AppEnv> = async (c) => {
  const input = c.req.valid('json');
  const key = c.req.valid('header')['idempotency-key'];
  const trainer = c.var.principal?.trainer;
  if (trainer !== undefined && input.from !== undefined && input.from !== trainer) {
    throw new Problem('forbidden', `A trainer key offers for its own trainer ("${trainer}"), not for "${input.from}".`, { trainer });
  }
  const from = trainer ?? input.from;
  if (from === undefined) throw invalid([{ pointer: '/from', detail: 'from is required with a key that is not a trainer key.' }]);
  if (from === input.to) throw invalid([{ pointer: '/to', detail: 'to must differ from the offering trainer.' }]);
  const offer = { ...input, from };
  return idempotent(c, { scope: 'offers', key, request: offer }, async (callerKey) => {
    const created = await offers.createOffer(c.var.services.db.primary, await requestIds('of', 'offers', callerKey, offer), offer);
    return c.json(created, 201, { Location: `/offers/${created.id}` });
  });
};

export const listOffers: RouteHandler<typeof routes.listOffers, AppEnv> = async (c) => {
  const { limit, cursor, status, role, trainer: named } = c.req.valid('query');
  const own = c.var.principal?.trainer;
  if (own !== undefined && named !== undefined && named !== own) {
    throw new Problem('forbidden', `A trainer key lists its own trainer's offers ("${own}"), not "${named}"'s.`, { trainer: own });
  }
  const trainer = own ?? named;
  if (role !== undefined && trainer === undefined) {
    throw invalid([{ parameter: 'role', detail: 'role needs a trainer: send trainer too, or use a trainer key.' }], 'query');
  }
  const rows = await offers.listOffers(c.var.services.db.replica, { trainer, role, status }, { limit, after: decodeCursor<string>(cursor, 'string') });
  if (!rows) throw invalidCursor();
  return c.json(toPage(rows, limit, (offer) => offer.id), 200);
};

export const getOffer: RouteHandler<typeof routes.getOffer, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const offer = await offers.getOffer(c.var.services.db.replica, id);
  const trainer = c.var.principal?.trainer;
  // To a trainer it does not concern, an offer does not exist.
  if (!offer || (trainer !== undefined && trainer !== offer.from && trainer !== offer.to)) throw notFound(id);
  return c.json(offer, 200);
};

export const acceptOffer: RouteHandler<typeof routes.acceptOffer, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const trainer = actingTrainer(c, 'accept');
  const key = c.req.valid('header')['idempotency-key'];
  return idempotent(c, { scope: 'offers.accept', key, request: { offer: id } }, async (callerKey) => {
    const exchangeIds = await requestIds('ex', 'offers.accept', callerKey, { offer: id });
    const { offer, exchange } = await offers.acceptOffer(c.var.services.db.primary, id, trainer, exchangeIds);
    return c.json({ ...offer, exchange }, 201, { Location: `/exchanges/${exchange.id}` });
  });
};

export const declineOffer: RouteHandler<typeof routes.declineOffer, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const offer = await offers.closeOffer(c.var.services.db.primary, id, actingTrainer(c, 'decline'), 'decline');
  return c.json(offer, 200);
};

export const withdrawOffer: RouteHandler<typeof routes.withdrawOffer, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  await offers.closeOffer(c.var.services.db.primary, id, actingTrainer(c, 'withdraw'), 'withdraw');
  return c.body(null, 204);
};
