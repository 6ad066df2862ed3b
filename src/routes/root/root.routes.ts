import { createRoute, z } from '@hono/zod-openapi';
import { jsonContent } from '../../openapi/responses.ts';

export const IndexSchema = z
  .object({
    name: z.string().openapi({ example: 'Pokémon Trainers API' }),
    version: z.string().openapi({ description: 'The version of the API (`info.version` of the OpenAPI document).', example: '1.0.0' }),
    links: z
      .object({
        docs: z.literal('/docs'),
        openapi: z.literal('/openapi.json'),
        health: z.literal('/health'),
        trainers: z.literal('/trainers'),
        pokemon: z.literal('/pokemon'),
        species: z.literal('/species'),
        exchanges: z.literal('/exchanges'),
        offers: z.literal('/offers'),
        keys: z.literal('/keys'),
      })
      .openapi({ description: 'Where to go next: the reference, the document, health, and each resource’s list.' }),
  })
  .openapi('Index');

export const getIndex = createRoute({
  operationId: 'getIndex',
  method: 'get',
  path: '/',
  tags: ['Operations'],
  summary: 'What this API is, and where to start',
  description: 'The API’s name and version, with links to the interactive reference (`/docs`), the OpenAPI document, health and every resource. Needs no key.',
  responses: { 200: jsonContent(IndexSchema, 'The index.') },
});
