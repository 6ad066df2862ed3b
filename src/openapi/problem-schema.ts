import { z } from '@hono/zod-openapi';

/** The RFC 9457 body every error response carries. */
export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: '/problems/validation-failed' }),
    title: z.string().openapi({ example: 'Validation failed' }),
    status: z.number().int().openapi({ example: 422 }),
    detail: z.string(),
    instance: z.string().openapi({ example: '/trainers' }),
    requestId: z.string(),
    errors: z
      .array(z.object({ pointer: z.string().openapi({ example: '/dateOfBirth' }), detail: z.string() }))
      .optional(),
  })
  .passthrough()
  .openapi('Problem');

export const problemContent = { 'application/problem+json': { schema: ProblemSchema } };
