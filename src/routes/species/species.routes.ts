import { createRoute, z } from '@hono/zod-openapi';
import { textSchema } from '../../domain/fields.ts';
import { POKEMON_TYPES } from '../../domain/species.ts';
import { jsonContent, problemResponse } from '../../openapi/responses.ts';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.ts';
import { SpeciesSummarySchema } from '../pokemon/pokemon.routes.ts';

export const listSpecies = createRoute({
  operationId: 'listSpecies',
  method: 'get',
  path: '/species',
  tags: ['Species'],
  summary: 'List species of the national Pokédex',
  description: 'Ordered by dex number. `q` matches names ignoring case and punctuation; `type` filters by type.',
  request: {
    query: pageQuerySchema.extend({
      q: textSchema(100).optional().meta({ example: 'saur' }),
      type: z
        .string()
        // Matched ignoring case, answered in the Pokédex's spelling.
        .transform((type) => POKEMON_TYPES.find((known) => known.toLowerCase() === type.trim().toLowerCase()) ?? type)
        .pipe(z.enum(POKEMON_TYPES))
        .optional()
        .openapi({ type: 'string', enum: [...POKEMON_TYPES], description: 'One of the 18 types, in any case.', example: 'Fire' }),
    }),
  },
  responses: {
    200: jsonContent(pageSchema(SpeciesSummarySchema), 'A page of species.'),
    422: problemResponse('A bad `limit`, `cursor`, `q` or `type` (the detail lists the types).'),
  },
});

export const getSpecies = createRoute({
  operationId: 'getSpecies',
  method: 'get',
  path: '/species/{numberOrName}',
  tags: ['Species'],
  summary: 'Get a species by dex number or name',
  description: 'By national dex number (`25`) or name, matched ignoring case, accents and punctuation (`mr mime` → `Mr. Mime`).',
  request: {
    params: z.object({
      numberOrName: z.string().min(1).max(100).openapi({ param: { name: 'numberOrName', in: 'path' }, example: 'pikachu' }),
    }),
  },
  responses: {
    200: jsonContent(SpeciesSummarySchema, 'The species.'),
    404: problemResponse('No such species; `suggestions` lists up to three close names.'),
  },
});
