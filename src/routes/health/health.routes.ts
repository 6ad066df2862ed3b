import { createRoute, z } from '@hono/zod-openapi';
import { jsonContent, noStoreHeaders, problemResponse } from '../../openapi/responses.ts';

const CheckSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    latencyMs: z.number().openapi({ example: 2.4 }),
    error: z.string().optional().meta({ description: 'The kind of failure (details are logged, not shown).', example: 'did not answer in time' }),
  })
  .openapi('DependencyCheck');

const ReplicaCheckSchema = CheckSchema.extend({
  name: z.string().openapi({ example: 'replica-1' }),
  lagBytes: z.number().int().optional().meta({ description: 'WAL bytes the replica has yet to replay; 0 when caught up.' }),
  secondsSinceReplayedCommit: z
    .number()
    .nullable()
    .optional()
    .openapi({ description: 'Age of the last commit the replica replayed (grows while the primary is idle; null before the first).' }),
}).openapi('ReplicaCheck');

export const HealthSchema = z
  .object({
    status: z.enum(['ok', 'degraded']).openapi({ description: '`degraded`: a read replica is down; its reads go to the primary.' }),
    checks: z.object({ database: CheckSchema, redis: CheckSchema, replicas: z.array(ReplicaCheckSchema) }),
  })
  .openapi('Health');

export const getHealth = createRoute({
  operationId: 'getHealth',
  method: 'get',
  path: '/health',
  tags: ['Operations'],
  summary: 'Check the database, its replicas and Redis',
  description: 'Makes one round trip to each dependency. 503 names every required dependency that failed; a replica that is down only degrades.',
  responses: {
    200: { ...jsonContent(HealthSchema, 'The database and Redis answered.'), headers: noStoreHeaders },
    503: problemResponse('A dependency did not answer, or the service is misconfigured.'),
  },
});
