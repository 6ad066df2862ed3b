import { z } from '@hono/zod-openapi';
import { headers } from './components.ts';
import { problemContent } from './problem-schema.ts';

/** An OpenAPI response with a JSON body. */
export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** `Cache-Control: no-store`, for answers no cache may keep (secrets, live state). */
export const noStoreHeaders = headers('Cache-Control');

/**
 * An OpenAPI error response: always RFC 9457 problem details. In the document it becomes its
 * status's shared response (`components.responses`) with this description (document.ts); the
 * body stays typed here, for the handlers and `hono/client`.
 */
export function problemResponse(description: string) {
  return { description, content: problemContent };
}

/** The `If-Match` request header of conditional writes (the document adds their 412 from it). */
export const ifMatchHeaders = z.object({
  'if-match': z.string().optional().openapi({
    description: 'The `ETag` of the representation this write is based on (or `*`): the write happens only if the resource is still exactly that, else 412.',
    example: '"3f9c2a7d1e4b4c5f8a6d0b2e9c7f1a3d"',
  }),
});
