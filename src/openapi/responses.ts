import type { z } from '@hono/zod-openapi';
import { problemContent } from './problem-schema.ts';

/** An OpenAPI response with a JSON body. */
export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** An OpenAPI error response: always RFC 9457 problem details. */
export function problemResponse(description: string) {
  return { description, content: problemContent };
}
