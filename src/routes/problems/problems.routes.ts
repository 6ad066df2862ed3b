import { createRoute, z } from '@hono/zod-openapi';
import { PROBLEMS, type ProblemCode } from '../../platform/problem.ts';
import { jsonContent, problemResponse } from '../../openapi/responses.ts';

export const getProblemType = createRoute({
  operationId: 'getProblemType',
  method: 'get',
  path: '/problems/{code}',
  tags: ['Operations'],
  summary: 'Describe a problem type',
  description: 'Every error response\'s `type` is a URI of this route: dereference it to learn what the problem means.',
  request: {
    params: z.object({
      code: z
        .enum(Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]])
        .openapi({ param: { name: 'code', in: 'path' }, example: 'validation-failed' }),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({ type: z.string(), title: z.string(), status: z.number().int(), description: z.string() }).openapi('ProblemType'),
      'What the problem type means.',
    ),
    404: problemResponse('No such problem type.'),
  },
});
