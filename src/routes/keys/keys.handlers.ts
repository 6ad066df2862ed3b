import type { RouteHandler } from '@hono/zod-openapi';
import * as keys from '../../domain/keys.ts';
import type { AppEnv } from '../../env.ts';
import { forgetKey } from '../../http/auth.ts';
import { decodeCursor, invalidCursor, toPage } from '../../platform/pagination.ts';
import { Problem } from '../../platform/problem.ts';
import type * as routes from './keys.routes.ts';

const notFound = (id: string) => new Problem('not-found', `There is no API key "${id}".`);

export const createKey: RouteHandler<typeof routes.createKey, AppEnv> = async (c) => {
  const input = c.req.valid('json');
  const created = await keys.createKey(c.var.services.db.primary, input);
  if (!created) {
    throw new Problem('validation-failed', `There is no trainer "${input.trainer}" for the key to act as.`, {
      errors: [{ pointer: '/trainer', detail: `trainer must name an existing trainer; there is no "${input.trainer}".` }],
    });
  }
  return c.json(created, 201, { Location: `/keys/${created.id}`, 'Cache-Control': 'no-store' });
};

export const listKeys: RouteHandler<typeof routes.listKeys, AppEnv> = async (c) => {
  const { limit, cursor } = c.req.valid('query');
  const after = decodeCursor<string>(cursor, 'string');
  if (after !== undefined && !/^key_[0-9a-f]{24}$/.test(after)) throw invalidCursor();
  const rows = await keys.listKeys(c.var.services.db.primary, { limit, after });
  return c.json(toPage(rows, limit, (key) => key.id), 200);
};

export const getKey: RouteHandler<typeof routes.getKey, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const key = await keys.getKey(c.var.services.db.primary, id);
  if (!key) throw notFound(id);
  return c.json(key, 200);
};

export const revokeKey: RouteHandler<typeof routes.revokeKey, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const revoked = await keys.revokeKey(c.var.services.db.primary, id);
  if (!revoked) throw notFound(id);
  forgetKey(revoked.hash);
  return c.body(null, 204);
};
