import { createRoute, z } from '@hono/zod-openapi';
import { jsonContent, problemResponse } from '../../openapi/responses.ts';

const CheckSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    latencyMs: z.number().openapi({ example: 2.4 }),
    error: z.string().optional().openapi({ description: 'Why the check failed.' }),
  })
  .openapi('DependencyCheck');

export const HealthSchema = z
  .object({
    status: z.literal('ok'),
    checks: z.object({ database: CheckSchema, cache: CheckSchema }),
  })
  .openapi('Health');

export const getHealth = createRoute({
  method: 'get',
  path: '/health',
  tags: ['Operations'],
  summary: 'Check the database and the cache',
  description: 'Makes one round trip to each dependency. 503 names every dependency that failed.',
  responses: {
    200: jsonContent(HealthSchema, 'Both dependencies answered.'),
    503: problemResponse('A dependency did not answer.'),
  },
});
