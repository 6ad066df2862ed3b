import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from './validation.ts';

/**
 * The query a route declares, closed: an unknown parameter is a 422 naming it, as an unknown
 * body field is. A route that declares none takes none.
 */
function closedQuery(query: unknown): z.ZodObject {
  return query instanceof z.ZodObject ? query.strict() : z.strictObject({});
}

/**
 * A router whose request validation failures answer 422 (404 for impossible path ids), and
 * whose every route refuses query parameters it does not declare.
 */
export function createRouter() {
  const router = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const register = router.openapi;
  router.openapi = ((route, handler, hook) =>
    register({ ...route, request: { ...route.request, query: closedQuery(route.request?.query) } }, handler, hook)) as typeof router.openapi;
  return router;
}
