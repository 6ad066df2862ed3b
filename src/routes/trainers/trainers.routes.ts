import { createRoute, z } from '@hono/zod-openapi';
import { firstNameSchema, forbiddenField, lastNameSchema, pastDateSchema, textSchema } from '../../domain/fields.ts';
import { idSchema } from '../../platform/text-schemas.ts';
import { ifMatchHeaders, jsonContent, problemResponse } from '../../openapi/responses.ts';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.ts';
import { requireJson } from '../../platform/validation.ts';

export const TrainerSchema = z
  .object({
    id: idSchema.meta({ example: 'trainer1' }),
    firstName: z.string().openapi({ example: 'Ash' }),
    lastName: z.string().openapi({ example: 'Ketchum' }),
    dateOfBirth: z.string().openapi({ format: 'date', example: '2010-05-22' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Trainer');

export const NewTrainerSchema = z
  .strictObject({
    id: idSchema.meta({ example: 'trainer1' }),
    firstName: firstNameSchema.meta({ example: 'Ash' }),
    lastName: lastNameSchema.meta({ example: 'Ketchum' }),
    dateOfBirth: pastDateSchema,
  })
  .openapi('NewTrainer');

const TrainerChangesSchema = z
  .strictObject({
    id: forbiddenField('cannot change: a trainer keeps its id'),
    firstName: firstNameSchema.optional(),
    lastName: lastNameSchema.optional(),
    dateOfBirth: pastDateSchema.optional(),
  })
  .refine((changes) => Object.keys(changes).length > 0, 'must contain at least one of firstName, lastName and dateOfBirth')
  .openapi('TrainerChanges');

const TrainerParams = z.object({ id: idSchema.meta({ param: { name: 'id', in: 'path' }, example: 'trainer1' }) });

export const createTrainer = createRoute({
  operationId: 'createTrainer',
  method: 'post',
  path: '/trainers',
  tags: ['Trainers'],
  summary: 'Create a trainer',
  description: 'The id is chosen by the client and never overwritten: an existing id is a 409.',
  middleware: [requireJson] as const,
  request: { body: { required: true, content: { 'application/json': { schema: NewTrainerSchema } } } },
  responses: {
    201: jsonContent(TrainerSchema, 'Created; `Location` names the new trainer.'),
    409: problemResponse('A trainer with this id exists (it is not overwritten).'),
    422: problemResponse('Invalid fields; `errors` lists every one.'),
  },
});

export const listTrainers = createRoute({
  operationId: 'listTrainers',
  method: 'get',
  path: '/trainers',
  tags: ['Trainers'],
  summary: 'List trainers',
  description: 'Ordered by id. `q` searches names and ids, case-insensitively.',
  request: { query: pageQuerySchema.extend({ q: textSchema(100).optional().meta({ example: 'ash' }) }) },
  responses: {
    200: jsonContent(pageSchema(TrainerSchema), 'A page of trainers.'),
    422: problemResponse('Bad `limit`, `cursor` or `q`.'),
  },
});

export const getTrainer = createRoute({
  operationId: 'getTrainer',
  method: 'get',
  path: '/trainers/{id}',
  tags: ['Trainers'],
  summary: 'Get a trainer',
  description: 'The trainer, with how many Pokémon they own now.',
  request: { params: TrainerParams },
  responses: {
    200: jsonContent(TrainerSchema.extend({ pokemonCount: z.number().int() }).openapi('TrainerWithCount'), 'The trainer and how many Pokémon they own.'),
    404: problemResponse('No such trainer.'),
  },
});

export const updateTrainer = createRoute({
  operationId: 'updateTrainer',
  method: 'patch',
  path: '/trainers/{id}',
  tags: ['Trainers'],
  summary: 'Change a trainer',
  description: 'Send only the fields to change. The id never changes.',
  middleware: [requireJson] as const,
  request: { params: TrainerParams, headers: ifMatchHeaders, body: { required: true, content: { 'application/json': { schema: TrainerChangesSchema } } } },
  responses: {
    200: jsonContent(TrainerSchema, 'The changed trainer.'),
    404: problemResponse('No such trainer.'),
    422: problemResponse('Invalid fields.'),
  },
});

export const deleteTrainer = createRoute({
  operationId: 'deleteTrainer',
  method: 'delete',
  path: '/trainers/{id}',
  tags: ['Trainers'],
  summary: 'Delete a trainer',
  description: 'Refused while the trainer owns Pokémon, unless `cascade=true`, which deletes them in the same transaction.',
  request: {
    headers: ifMatchHeaders,
    params: TrainerParams,
    query: z.object({ cascade: z.enum(['true', 'false']).default('false').openapi({ description: 'Also delete the Pokémon they own.' }) }),
  },
  responses: {
    204: { description: 'Deleted.' },
    404: problemResponse('No such trainer.'),
    409: problemResponse('The trainer owns Pokémon; `pokemonCount` says how many.'),
  },
});
