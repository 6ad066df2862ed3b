import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { PROBLEMS, problemType } from '../../platform/problem.ts';
import type { getProblemType } from './problems.routes.ts';

export const problemTypeHandler: RouteHandler<typeof getProblemType, AppEnv> = (c) => {
  const { code } = c.req.valid('param');
  return c.json({ type: problemType(code), ...PROBLEMS[code] }, 200, { 'Cache-Control': 'public, max-age=86400' });
};
