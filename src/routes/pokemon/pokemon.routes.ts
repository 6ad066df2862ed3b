import { createRoute, z } from '@hono/zod-openapi';
import { forbiddenField, levelSchema, nicknameSchema, pastDateSchema, speciesNameSchema, speciesSchema } from '../../domain/fields.ts';
import { idSchema, wholeNumberText } from '../../platform/text-schemas.ts';
import { ifMatchHeaders, jsonContent, problemResponse } from '../../openapi/responses.ts';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.ts';
import { requireJson } from '../../platform/validation.ts';

export const SpeciesSummarySchema = z
  .object({
    dexNumber: z.number().int().openapi({ example: 25 }),
    name: z.string().openapi({ example: 'Pikachu' }),
    types: z.array(z.string()).openapi({ example: ['Electric'] }),
  })
  .openapi('SpeciesSummary');

export const PokemonSchema = z
  .object({
    id: z.string().openapi({ example: 'pikachu1' }),
    nickname: z.string().openapi({ example: 'Sparky' }),
    species: SpeciesSummarySchema,
    level: z.number().int().openapi({ example: 12 }),
    owner: z.string().openapi({ example: 'trainer1' }),
    dateOfOwnership: z.string().openapi({ format: 'date', example: '2020-01-01' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Pokemon');

const NewPokemonSchema = z
  .strictObject({
    id: idSchema.meta({ example: 'pikachu1' }),
    nickname: nicknameSchema.meta({ example: 'Sparky' }),
    species: speciesSchema.meta({ description: 'A species name (matched ignoring case and punctuation) or national dex number.', example: 'pikachu' }),
    level: levelSchema.meta({ example: 12 }),
    owner: idSchema.meta({ description: 'The id of an existing trainer.', example: 'trainer1' }),
    dateOfOwnership: pastDateSchema,
  })
  .openapi('NewPokemon');

const PokemonChangesSchema = z
  .strictObject({
    id: forbiddenField('cannot change: a Pokémon keeps its id'),
    owner: forbiddenField('cannot change here: ownership changes only through POST /exchanges'),
    dateOfOwnership: forbiddenField('cannot change here: it is set when the Pokémon changes owner'),
    nickname: nicknameSchema.optional(),
    species: speciesSchema.optional().meta({ description: 'A species name or national dex number.' }),
    level: levelSchema.optional(),
  })
  .refine((changes) => Object.keys(changes).length > 0, 'must contain at least one of nickname, species and level')
  .openapi('PokemonChanges');

const OwnershipRecordSchema = z
  .object({
    trainer: z.string(),
    acquiredOn: z.string().openapi({ format: 'date' }),
    source: z.enum(['created', 'uploaded', 'exchanged']),
    exchangeId: z.string().nullable(),
    recordedAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('OwnershipRecord');

export const PokemonParams = z.object({ id: idSchema.meta({ param: { name: 'id', in: 'path' }, example: 'pikachu1' }) });

const levelFilter = wholeNumberText(1, 100).optional().openapi({ type: 'integer', minimum: 1, maximum: 100 });

export const createPokemon = createRoute({
  operationId: 'createPokemon',
  method: 'post',
  path: '/pokemon',
  tags: ['Pokémon'],
  summary: 'Create a Pokémon',
  description: 'Records its first ownership-history entry in the same statement.',
  middleware: [requireJson] as const,
  request: { body: { required: true, content: { 'application/json': { schema: NewPokemonSchema } } } },
  responses: {
    201: jsonContent(PokemonSchema, 'Created; `Location` names it.'),
    409: problemResponse('A Pokémon with this id exists.'),
    422: problemResponse('Invalid fields, an unknown owner (`/owner`) or an unknown species (`/species`, with `suggestions`).'),
  },
});

export const listPokemon = createRoute({
  operationId: 'listPokemon',
  method: 'get',
  path: '/pokemon',
  tags: ['Pokémon'],
  summary: 'List Pokémon',
  description: 'Ordered by id; every filter is optional.',
  request: {
    query: pageQuerySchema
      .extend({
        owner: idSchema.optional().meta({ example: 'trainer1' }),
        species: speciesNameSchema.optional().meta({ description: 'A species name or national dex number; an unknown one is a 422 with suggestions.', example: 'pikachu' }),
        minLevel: levelFilter,
        maxLevel: levelFilter,
      })
      .refine((q) => q.minLevel === undefined || q.maxLevel === undefined || q.minLevel <= q.maxLevel, {
        message: 'must not be greater than maxLevel',
        path: ['minLevel'],
      }),
  },
  responses: {
    200: jsonContent(pageSchema(PokemonSchema), 'A page of Pokémon.'),
    422: problemResponse('A bad filter, `limit` or `cursor`.'),
  },
});

export const listTrainerPokemon = createRoute({
  operationId: 'listTrainerPokemon',
  method: 'get',
  path: '/trainers/{id}/pokemon',
  tags: ['Trainers'],
  summary: "List a trainer's Pokémon",
  description: 'Ordered by id, species embedded. 404 when the trainer does not exist (an empty page means they own none).',
  request: { params: z.object({ id: idSchema.meta({ param: { name: 'id', in: 'path' }, example: 'trainer1' }) }), query: pageQuerySchema },
  responses: {
    200: jsonContent(pageSchema(PokemonSchema), 'A page of their Pokémon, by id.'),
    404: problemResponse('No such trainer.'),
    422: problemResponse('A bad `limit` or `cursor`.'),
  },
});

export const getPokemon = createRoute({
  operationId: 'getPokemon',
  method: 'get',
  path: '/pokemon/{id}',
  tags: ['Pokémon'],
  summary: 'Get a Pokémon',
  description: 'The Pokémon with its species embedded (`dexNumber`, `name`, `types`).',
  request: { params: PokemonParams },
  responses: {
    200: jsonContent(PokemonSchema, 'The Pokémon, with its species.'),
    404: problemResponse('No such Pokémon.'),
  },
});

export const updatePokemon = createRoute({
  operationId: 'updatePokemon',
  method: 'patch',
  path: '/pokemon/{id}',
  tags: ['Pokémon'],
  summary: 'Change a Pokémon',
  description: 'Nickname, level and species may change. The owner changes only through exchanges.',
  middleware: [requireJson] as const,
  request: { params: PokemonParams, headers: ifMatchHeaders, body: { required: true, content: { 'application/json': { schema: PokemonChangesSchema } } } },
  responses: {
    200: jsonContent(PokemonSchema, 'The changed Pokémon.'),
    404: problemResponse('No such Pokémon.'),
    422: problemResponse('Invalid fields, an attempt to change the owner, or an unknown species.'),
  },
});

export const deletePokemon = createRoute({
  operationId: 'deletePokemon',
  method: 'delete',
  path: '/pokemon/{id}',
  tags: ['Pokémon'],
  summary: 'Delete a Pokémon',
  description: 'Deletes the Pokémon and its ownership history in one statement. Exchanges that traded it stay on record.',
  request: { params: PokemonParams, headers: ifMatchHeaders },
  responses: { 204: { description: 'Deleted, with its history.' }, 404: problemResponse('No such Pokémon.') },
});

export const getOwnershipHistory = createRoute({
  operationId: 'getOwnershipHistory',
  method: 'get',
  path: '/pokemon/{id}/history',
  tags: ['Pokémon'],
  summary: "A Pokémon's owners",
  description: 'One entry each time it got an owner (created, uploaded, exchanged), oldest first.',
  request: { params: PokemonParams },
  responses: {
    200: jsonContent(z.object({ data: z.array(OwnershipRecordSchema) }), 'Its owners, oldest first.'),
    404: problemResponse('No such Pokémon.'),
  },
});
