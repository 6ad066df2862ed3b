import { createRoute, z } from '@hono/zod-openapi';
import { idSchema } from '../../platform/text-schemas.ts';
import { jsonContent, problemResponse } from '../../openapi/responses.ts';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.ts';
import { requireJson } from '../../platform/validation.ts';

const MAX_POKEMON_PER_SIDE = 100;

export const pokemonListSchema = z
  .array(idSchema)
  .max(MAX_POKEMON_PER_SIDE, `must list at most ${MAX_POKEMON_PER_SIDE} Pokémon`)
  .openapi({ example: ['pikachu1'] });

export const ExchangeSchema = z
  .object({
    id: z.string().openapi({ example: 'ex_3f9c2a7d1e4b4c5f8a6d0b2e9c7f1a3d' }),
    trainerA: z.string().openapi({ example: 'trainer1' }),
    trainerB: z.string().openapi({ example: 'trainer2' }),
    pokemonsA: z.array(z.string()).openapi({ description: 'Went from A to B.', example: ['pikachu1'] }),
    pokemonsB: z.array(z.string()).openapi({ description: 'Went from B to A.', example: ['eevee7'] }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    offerId: z.string().nullable().openapi({ description: 'The accepted offer this exchange carried out (trainerA its `from`, trainerB its `to`); null for a direct exchange.', example: null }),
  })
  .openapi('Exchange');

/** Rules across a trade's two lists of Pokémon: something traded, no Pokémon listed twice. */
export function checkSides<K extends string>(input: Record<K, string[]>, [first, second]: [K, K], ctx: z.RefinementCtx) {
  if (input[first].length === 0 && input[second].length === 0) {
    ctx.addIssue({ code: 'custom', path: [first], message: `must not be empty when ${second} is empty too: trade at least one Pokémon` });
  }
  const firstSeen = new Map<string, string>();
  for (const side of [first, second]) {
    input[side].forEach((id, index) => {
      const first = firstSeen.get(id);
      if (first) ctx.addIssue({ code: 'custom', path: [side, index], message: `lists "${id}" again (first at ${first})` });
      else firstSeen.set(id, `/${side}/${index}`);
    });
  }
}

/** Rules across fields: two different trainers, something traded, no Pokémon listed twice. */
function checkExchange(input: { trainerA: string; trainerB: string; pokemonsA: string[]; pokemonsB: string[] }, ctx: z.RefinementCtx) {
  if (input.trainerA === input.trainerB) ctx.addIssue({ code: 'custom', path: ['trainerB'], message: 'must differ from trainerA' });
  checkSides(input, ['pokemonsA', 'pokemonsB'], ctx);
}

export const NewExchangeSchema = z
  .strictObject({
    trainerA: idSchema.meta({ example: 'trainer1' }),
    trainerB: idSchema.meta({ example: 'trainer2' }),
    pokemonsA: pokemonListSchema.openapi({ description: `Owned by trainerA, going to trainerB (at most ${MAX_POKEMON_PER_SIDE}).` }),
    pokemonsB: pokemonListSchema.openapi({ description: `Owned by trainerB, going to trainerA (at most ${MAX_POKEMON_PER_SIDE}; may be empty: a gift).` }),
  })
  .superRefine(checkExchange)
  .openapi('NewExchange');

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1–255 printable ASCII characters')
    .optional()
    .openapi({
      // Lower case: header names are case-insensitive, and Hono hands them to the validator lower-cased.
      description: 'Retrying with the same key and body within 24 h returns the first answer (a success or a 4xx problem, with `Idempotent-Replayed: true`) and trades nothing more.',
      example: '7c1d5e0a-6a38-4b8e-9a51-0d3f5b2e8c41',
    }),
});

const ExchangeParams = z.object({ id: idSchema.meta({ param: { name: 'id', in: 'path' }, example: 'ex_3f9c2a7d1e4b4c5f8a6d0b2e9c7f1a3d' }) });

export const createExchange = createRoute({
  operationId: 'createExchange',
  method: 'post',
  path: '/exchanges',
  tags: ['Exchanges'],
  summary: 'Trade Pokémon between two trainers',
  description:
    'All or nothing, in one database round trip: every listed Pokémon changes owner (its `dateOfOwnership` becomes the ' +
    'exchange date and its history gains an entry pointing at the exchange), or none does.',
  middleware: [requireJson] as const,
  request: {
    headers: IdempotencyHeaders,
    body: { required: true, content: { 'application/json': { schema: NewExchangeSchema } } },
  },
  responses: {
    201: jsonContent(ExchangeSchema, 'Traded; `Location` names the exchange.'),
    404: problemResponse('Unknown trainers or Pokémon: `unknownTrainers`, `unknownPokemon`, and `errors` pointing at each.'),
    409: problemResponse(
      'A listed Pokémon was not owned by its stated trainer (`conflicts` says who owns it now; nothing changed), ' +
        'or a request with this `Idempotency-Key` is still running.',
    ),
    422: problemResponse('Invalid fields, or an `Idempotency-Key` reused with a different body.'),
  },
});

export const getExchange = createRoute({
  operationId: 'getExchange',
  method: 'get',
  path: '/exchanges/{id}',
  tags: ['Exchanges'],
  summary: 'Get an exchange',
  description: 'One exchange: who traded which Pokémon, when, and the offer it carried out (if any).',
  request: { params: ExchangeParams },
  responses: {
    200: jsonContent(ExchangeSchema, 'The exchange.'),
    404: problemResponse('No such exchange.'),
  },
});

export const listExchanges = createRoute({
  operationId: 'listExchanges',
  method: 'get',
  path: '/exchanges',
  tags: ['Exchanges'],
  summary: 'List exchanges',
  description: 'Newest first. `trainer` keeps those the trainer took part in, on either side (also after the trainer was deleted).',
  request: { query: pageQuerySchema.extend({ trainer: idSchema.optional().meta({ example: 'trainer1' }) }) },
  responses: {
    200: jsonContent(pageSchema(ExchangeSchema), 'A page of exchanges.'),
    422: problemResponse('A bad `trainer`, `limit` or `cursor`.'),
  },
});
