import type { RouteHandler } from '@hono/zod-openapi';
import * as exchanges from '../../domain/exchanges.ts';
import { requestIds } from '../../domain/request-ids.ts';
import type { AppEnv } from '../../env.ts';
import { idempotent } from '../../http/idempotency.ts';
import { decodeCursor, invalidCursor, toPage } from '../../platform/pagination.ts';
import { Problem } from '../../platform/problem.ts';
import type * as routes from './exchanges.routes.ts';

/** Where `pokemonId` stands in the request body, as a JSON Pointer. */
function pointerTo(input: exchanges.NewExchange, pokemonId: string): string {
  const index = input.pokemonsA.indexOf(pokemonId);
  return index >= 0 ? `/pokemonsA/${index}` : `/pokemonsB/${input.pokemonsB.indexOf(pokemonId)}`;
}

function unknownProblem(input: exchanges.NewExchange, unknown: { trainers: string[]; pokemon: string[] }): Problem {
  const errors = [
    ...unknown.trainers.map((id) => ({ pointer: id === input.trainerA ? '/trainerA' : '/trainerB', detail: `there is no trainer "${id}"` })),
    ...unknown.pokemon.map((id) => ({ pointer: pointerTo(input, id), detail: `there is no Pokémon "${id}"` })),
  ];
  const names = [...unknown.trainers.map((id) => `trainer "${id}"`), ...unknown.pokemon.map((id) => `Pokémon "${id}"`)];
  return new Problem('not-found', `Nothing was traded: there is no ${names.join(', ')}.`, {
    unknownTrainers: unknown.trainers,
    unknownPokemon: unknown.pokemon,
    errors,
  });
}

function conflictProblem(input: exchanges.NewExchange, conflicts: exchanges.OwnershipConflict[]): Problem {
  const errors = conflicts.map(({ pokemon, expectedOwner, owner }) => ({
    pointer: pointerTo(input, pokemon),
    detail: `"${pokemon}" belongs to trainer "${owner}", not "${expectedOwner}"`,
  }));
  return new Problem('conflict', `Nothing was traded: ${conflicts.length} Pokémon ${conflicts.length === 1 ? 'is' : 'are'} not owned by the stated trainer.`, {
    conflicts,
    errors,
  });
}

export const createExchange: RouteHandler<typeof routes.createExchange, AppEnv> = async (c) => {
  const input = c.req.valid('json');
  const key = c.req.valid('header')['idempotency-key'];
  return idempotent(c, { scope: 'exchanges', key, request: input }, async (callerKey) => {
    const ids = await requestIds('ex', 'exchanges', callerKey, input);
    const result = await exchanges.createExchange(c.var.services.db.primary, ids, input);
    if (result.status === 'unknown') throw unknownProblem(input, result);
    if (result.status === 'conflict') throw conflictProblem(input, result.conflicts);
    return c.json(result.exchange, 201, { Location: `/exchanges/${result.exchange.id}` });
  });
};

export const getExchange: RouteHandler<typeof routes.getExchange, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const exchange = await exchanges.getExchange(c.var.services.db.replica, id);
  if (!exchange) throw new Problem('not-found', `There is no exchange "${id}".`);
  return c.json(exchange, 200);
};

export const listExchanges: RouteHandler<typeof routes.listExchanges, AppEnv> = async (c) => {
  const { limit, cursor, trainer } = c.req.valid('query');
  const rows = await exchanges.listExchanges(c.var.services.db.replica, { limit, trainer, after: decodeCursor<string>(cursor, 'string') });
  if (!rows) throw invalidCursor();
  return c.json(toPage(rows, limit, (exchange) => exchange.id), 200);
};
