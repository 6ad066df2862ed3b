import { createRoute, z } from '@hono/zod-openapi';
import { DEFAULT_OFFER_SECONDS, MAX_OFFER_SECONDS, OFFER_STATUSES } from '../../domain/offers.ts';
import { idSchema } from '../../platform/text-schemas.ts';
import { jsonContent, problemResponse } from '../../openapi/responses.ts';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.ts';
import { requireJson } from '../../platform/validation.ts';
import { checkSides, ExchangeSchema, IdempotencyHeaders, pokemonListSchema } from '../exchanges/exchanges.routes.ts';

export const OfferSchema = z
  .object({
    id: z.string().openapi({ example: 'of_5b1e0c9d7a3f4e2b8c6d1a0f9e8b7c6d' }),
    from: z.string().openapi({ description: 'The trainer who made the offer.', example: 'ash' }),
    to: z.string().openapi({ description: 'The trainer it is made to; only they can accept or decline it.', example: 'misty' }),
    give: z.array(z.string()).openapi({ description: 'Owned by `from`, going to `to`.', example: ['pikachu1'] }),
    want: z.array(z.string()).openapi({ description: 'Owned by `to`, going to `from`.', example: ['staryu1'] }),
    status: z.enum(OFFER_STATUSES).openapi({ description: '`expired`: open and past `expiresAt` (derived, never stored).' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    expiresAt: z.string().openapi({ format: 'date-time' }),
    closedAt: z.string().nullable().openapi({ format: 'date-time', description: 'When it was accepted, declined or withdrawn.' }),
    exchangeId: z.string().nullable().openapi({ description: 'The exchange that carried it out, once accepted.' }),
  })
  .openapi('Offer');

const AcceptedOfferSchema = OfferSchema.extend({ exchange: ExchangeSchema }).openapi('AcceptedOffer');

const NewOfferSchema = z
  .strictObject({
    from: idSchema.optional().meta({ description: 'A write key names the offering trainer; a trainer key’s trainer is `from` (naming another → 403).', example: 'ash' }),
    to: idSchema.meta({ example: 'misty' }),
    give: pokemonListSchema.openapi({ description: 'Owned by `from`, going to `to` (at most 100; may be empty).' }),
    want: pokemonListSchema.openapi({ description: 'Owned by `to`, going to `from` (at most 100; may be empty, not both).' }),
    expiresInSeconds: z
      .number({ error: `must be a whole number of seconds from 1 to ${MAX_OFFER_SECONDS}` })
      .int('must be a whole number of seconds')
      .min(1, 'must be at least 1 second')
      .max(MAX_OFFER_SECONDS, `must be at most ${MAX_OFFER_SECONDS} seconds (7 days)`)
      .default(DEFAULT_OFFER_SECONDS)
      .openapi({ description: 'How long `to` has to accept (default 24 h).', example: 3600 }),
  })
  .superRefine((input, ctx) => {
    if (input.from !== undefined && input.from === input.to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must differ from from' });
    checkSides(input, ['give', 'want'], ctx);
  })
  .openapi('NewOffer');

const OfferParams = z.object({
  id: z
    .string()
    .regex(/^of_[0-9a-f]{32}$/)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'of_5b1e0c9d7a3f4e2b8c6d1a0f9e8b7c6d' }),
});

const WHO = 'Trainer keys act for their trainer; write and admin keys see every offer.';

export const createOffer = createRoute({
  operationId: 'createOffer',
  method: 'post',
  path: '/offers',
  tags: ['Offers'],
  summary: 'Offer a trade to another trainer',
  description:
    'Checked at once, in one statement: `to` exists, `from` owns every `give` and `to` every `want`. Nothing moves until `to` accepts. ' + WHO,
  middleware: [requireJson] as const,
  request: { headers: IdempotencyHeaders, body: { required: true, content: { 'application/json': { schema: NewOfferSchema } } } },
  responses: {
    201: jsonContent(OfferSchema, 'Offered; `Location` names the offer.'),
    403: problemResponse('A trainer key naming another trainer as `from`.'),
    404: problemResponse('`to` (or `from`) is not a trainer.'),
    409: problemResponse('A listed Pokémon is not with the trainer the offer says (`conflicts`, with each one’s owner), or an `Idempotency-Key` still in flight.'),
    422: problemResponse('Invalid fields: `to` = `from`, nothing listed, an id twice, over 100 a side, `expiresInSeconds` out of range.'),
  },
});

export const listOffers = createRoute({
  operationId: 'listOffers',
  method: 'get',
  path: '/offers',
  tags: ['Offers'],
  summary: 'List offers',
  description: 'Newest first. A trainer key lists its own trainer’s offers; write and admin keys all of them, or one `trainer`’s.',
  request: {
    query: pageQuerySchema.extend({
      status: z.enum(OFFER_STATUSES, { error: `must be one of ${OFFER_STATUSES.join(', ')}` }).optional(),
      role: z.enum(['from', 'to'], { error: 'must be from or to' }).optional().openapi({ description: 'Only offers the trainer made (`from`) or received (`to`).' }),
      trainer: idSchema.optional().meta({ description: 'Write and admin keys: one trainer’s offers (a trainer key: only its own).', example: 'ash' }),
    }),
  },
  responses: {
    200: jsonContent(pageSchema(OfferSchema), 'A page of offers.'),
    403: problemResponse('A trainer key asking for another trainer’s offers.'),
    422: problemResponse('A bad `status`, `role`, `trainer`, `limit` or `cursor`; `role` without a trainer.'),
  },
});

export const getOffer = createRoute({
  operationId: 'getOffer',
  method: 'get',
  path: '/offers/{id}',
  tags: ['Offers'],
  summary: 'Get an offer',
  description: 'For its two trainers and write/admin keys; to other trainers it does not exist.',
  request: { params: OfferParams },
  responses: { 200: jsonContent(OfferSchema, 'The offer.'), 404: problemResponse('No such offer (or not one of this trainer’s).') },
});

const GONE = problemResponse('The offer is no longer open: accepted, declined, withdrawn or expired (`offerStatus`).');

export const acceptOffer = createRoute({
  operationId: 'acceptOffer',
  method: 'post',
  path: '/offers/{id}/accept',
  tags: ['Offers'],
  summary: 'Accept an offer (its recipient)',
  description:
    'One statement: locks the offer, then — as an exchange does — both trainers and every listed Pokémon, re-checks every owner, ' +
    'trades, records the exchange (with `offerId`) and marks the offer accepted. Only `to`, with its trainer key.',
  request: { headers: IdempotencyHeaders, params: OfferParams },
  responses: {
    201: jsonContent(AcceptedOfferSchema, 'Traded; `Location` names the exchange.'),
    403: problemResponse('Not the offer’s recipient (its maker, or a key that is not a trainer key).'),
    404: problemResponse('No such offer (or not one of this trainer’s).'),
    409: problemResponse('A Pokémon changed hands since the offer (`conflicts`); nothing moved and the offer stays open.'),
    410: GONE,
    422: problemResponse('An `Idempotency-Key` reused for another request.'),
  },
});

export const declineOffer = createRoute({
  operationId: 'declineOffer',
  method: 'post',
  path: '/offers/{id}/decline',
  tags: ['Offers'],
  summary: 'Decline an offer (its recipient)',
  description: 'Only `to`, with its trainer key (or a write/admin key). The offer stays on record as `declined`; nothing moves.',
  request: { params: OfferParams },
  responses: {
    200: jsonContent(OfferSchema, 'Declined.'),
    403: problemResponse('Not the offer’s recipient.'),
    404: problemResponse('No such offer (or not one of this trainer’s).'),
    410: GONE,
  },
});

export const withdrawOffer = createRoute({
  operationId: 'withdrawOffer',
  method: 'delete',
  path: '/offers/{id}',
  tags: ['Offers'],
  summary: 'Withdraw an offer (its maker)',
  description: 'The offer stays on record as `withdrawn`.',
  request: { params: OfferParams },
  responses: {
    204: { description: 'Withdrawn.' },
    403: problemResponse('Not the offer’s maker.'),
    404: problemResponse('No such offer (or not one of this trainer’s).'),
    410: GONE,
  },
});
