import { createRoute, z } from '@hono/zod-openapi';
import { firstNameSchema, idSchema, lastNameSchema, pastDateSchema } from '../../domain/fields.ts';
import { problemContent } from '../../openapi/problem-schema.ts';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.ts';
import { requireJson } from '../../platform/validation.ts';

export const TrainerSchema = z
  .object({
    id: idSchema.openapi({ example: 'trainer1' }),
    firstName: z.string().openapi({ example: 'Ash' }),
    lastName: z.string().openapi({ example: 'Ketchum' }),
    dateOfBirth: z.string().openapi({ format: 'date', example: '2010-05-22' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Trainer');

export const NewTrainerSchema = z
  .strictObject({
    id: idSchema.openapi({ example: 'trainer1' }),
    firstName: firstNameSchema.openapi({ example: 'Ash' }),
    lastName: lastNameSchema.openapi({ example: 'Ketchum' }),
    dateOfBirth: pastDateSchema,
  })
  .openapi('NewTrainer');

const TrainerChangesSchema = z
  .strictObject({
    id: z.never({ error: 'cannot change: a trainer keeps its id' }).optional(),
    firstName: firstNameSchema.optional(),
    lastName: lastNameSchema.optional(),
    dateOfBirth: pastDateSchema.optional(),
  })
  .refine((changes) => Object.keys(changes).length > 0, 'send at least one of firstName, lastName, dateOfBirth')
  .openapi('TrainerChanges');

const TrainerParams = z.object({ id: idSchema.openapi({ param: { name: 'id', in: 'path' }, example: 'trainer1' }) });

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const problem = (description: string) => ({ description, content: problemContent });

export const createTrainer = createRoute({
  method: 'post',
  path: '/trainers',
  tags: ['Trainers'],
  summary: 'Create a trainer',
  middleware: [requireJson] as const,
  request: { body: { required: true, content: { 'application/json': { schema: NewTrainerSchema } } } },
  responses: {
    201: json(TrainerSchema, 'Created; `Location` names the new trainer.'),
    400: problem('The body is not valid JSON.'),
    409: problem('A trainer with this id exists (it is not overwritten).'),
    415: problem('The body is not JSON.'),
    422: problem('Invalid fields; `errors` lists every one.'),
  },
});

export const listTrainers = createRoute({
  method: 'get',
  path: '/trainers',
  tags: ['Trainers'],
  summary: 'List trainers',
  description: 'Ordered by id. `q` searches names and ids, case-insensitively.',
  request: { query: pageQuerySchema.extend({ q: z.string().trim().min(1).max(100).optional().openapi({ example: 'ash' }) }) },
  responses: {
    200: json(pageSchema(TrainerSchema), 'A page of trainers.'),
    422: problem('Bad `limit`, `cursor` or `q`.'),
  },
});

export const getTrainer = createRoute({
  method: 'get',
  path: '/trainers/{id}',
  tags: ['Trainers'],
  summary: 'Get a trainer',
  request: { params: TrainerParams },
  responses: {
    200: json(TrainerSchema.extend({ pokemonCount: z.number().int() }).openapi('TrainerWithCount'), 'The trainer and how many Pokémon they own.'),
    404: problem('No such trainer.'),
  },
});

export const updateTrainer = createRoute({
  method: 'patch',
  path: '/trainers/{id}',
  tags: ['Trainers'],
  summary: 'Change a trainer',
  description: 'Send only the fields to change. The id never changes.',
  middleware: [requireJson] as const,
  request: { params: TrainerParams, body: { required: true, content: { 'application/json': { schema: TrainerChangesSchema } } } },
  responses: {
    200: json(TrainerSchema, 'The changed trainer.'),
    404: problem('No such trainer.'),
    415: problem('The body is not JSON.'),
    422: problem('Invalid fields.'),
  },
});

export const deleteTrainer = createRoute({
  method: 'delete',
  path: '/trainers/{id}',
  tags: ['Trainers'],
  summary: 'Delete a trainer',
  description: 'Refused while the trainer owns Pokémon, unless `cascade=true`, which deletes them in the same transaction.',
  request: {
    params: TrainerParams,
    query: z.object({ cascade: z.enum(['true', 'false']).default('false').openapi({ description: 'Also delete the Pokémon they own.' }) }),
  },
  responses: {
    204: { description: 'Deleted.' },
    404: problem('No such trainer.'),
    409: problem('The trainer owns Pokémon; `pokemonCount` says how many.'),
  },
});
