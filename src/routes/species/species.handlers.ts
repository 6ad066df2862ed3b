import type { RouteHandler } from '@hono/zod-openapi';
import * as species from '../../domain/species.ts';
import type { AppEnv } from '../../env.ts';
import { decodeCursor, toPage } from '../../platform/pagination.ts';
import { Problem } from '../../platform/problem.ts';
import type * as routes from './species.routes.ts';

/** The Pokédex changes only with a migration: let clients and CDNs cache it for an hour. */
const CACHEABLE = { 'Cache-Control': 'public, max-age=3600' };

export const listSpecies: RouteHandler<typeof routes.listSpecies, AppEnv> = async (c) => {
  const { limit, cursor, q, type } = c.req.valid('query');
  const rows = await species.listSpecies(c.var.services.db.replica, { limit, q, type, after: decodeCursor<number>(cursor, 'number') });
  return c.json(toPage(rows, limit, (s) => s.dexNumber), 200, CACHEABLE);
};

export const getSpecies: RouteHandler<typeof routes.getSpecies, AppEnv> = async (c) => {
  const { numberOrName } = c.req.valid('param');
  const found = await species.getSpecies(c.var.services.db.replica, numberOrName);
  if (!found) {
    const suggestions = (await species.missingSpecies(c.var.services.db.replica, [numberOrName])).get(numberOrName) ?? [];
    throw new Problem('not-found', species.unknownSpeciesSentence('The species', numberOrName, suggestions), { suggestions });
  }
  return c.json(found, 200, CACHEABLE);
};
