import type { RouteHandler } from '@hono/zod-openapi';
import * as pokemon from '../../domain/pokemon.ts';
import type { AppEnv } from '../../env.ts';
import { decodeCursor, toPage } from '../../platform/pagination.ts';
import { checkIfMatch, preconditionFailed } from '../../platform/preconditions.ts';
import { Problem } from '../../platform/problem.ts';
import type * as routes from './pokemon.routes.ts';

const notFound = (id: string) => new Problem('not-found', `There is no Pokémon "${id}".`);
const notYours = (trainer: string, what: string) =>
  new Problem('forbidden', `A trainer key acts only for its own trainer ("${trainer}"): ${what}.`, { trainer });

function unknownSpeciesError(species: string, suggestions: string[]) {
  const hint = suggestions.length > 0 ? `; did you mean ${suggestions.join(', ')}?` : '';
  return { pointer: '/species', detail: `"${species}" is not a known species${hint}`, suggestions };
}

export const createPokemon: RouteHandler<typeof routes.createPokemon, AppEnv> = async (c) => {
  const input = c.req.valid('json');
  const trainer = c.var.principal?.trainer;
  if (trainer !== undefined && input.owner !== trainer) throw notYours(trainer, `it cannot create a Pokémon owned by "${input.owner}"`);
  const result = await pokemon.createPokemon(c.var.services.db.primary, input);
  if (result.status === 'id-taken') {
    throw new Problem('conflict', `A Pokémon with id "${input.id}" already exists; it was not changed.`, {
      errors: [{ pointer: '/id', detail: 'is taken' }],
    });
  }
  if (result.status === 'invalid') {
    const errors = [
      ...(result.ownerMissing ? [{ pointer: '/owner', detail: `there is no trainer "${input.owner}"` }] : []),
      ...(result.speciesMissing ? [unknownSpeciesError(input.species, result.suggestions)] : []),
    ];
    const unknown = errors.map((error) => error.pointer.slice(1)).join(' and ');
    if (result.ownerBornOn !== undefined) {
      errors.push({ pointer: '/dateOfOwnership', detail: `is before the owner's date of birth (${result.ownerBornOn})` });
    }
    const detail = unknown ? `The Pokémon refers to an unknown ${unknown}.` : 'The Pokémon cannot be owned before its owner was born.';
    throw new Problem('validation-failed', detail, { errors });
  }
  return c.json(result.pokemon, 201, { Location: `/pokemon/${encodeURIComponent(result.pokemon.id)}` });
};

export const listPokemon: RouteHandler<typeof routes.listPokemon, AppEnv> = async (c) => {
  const { limit, cursor, ...filters } = c.req.valid('query');
  const rows = await pokemon.listPokemon(c.var.services.db.replica, filters, { limit, after: decodeCursor<string>(cursor, 'string') });
  return c.json(toPage(rows, limit, (p) => p.id), 200);
};

export const listTrainerPokemon: RouteHandler<typeof routes.listTrainerPokemon, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { limit, cursor } = c.req.valid('query');
  const rows = await pokemon.listTrainerPokemon(c.var.services.db.replica, id, { limit, after: decodeCursor<string>(cursor, 'string') });
  if (!rows) throw new Problem('not-found', `There is no trainer "${id}".`);
  return c.json(toPage(rows, limit, (p) => p.id), 200);
};

export const getPokemon: RouteHandler<typeof routes.getPokemon, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const found = await pokemon.getPokemon(c.var.services.db.replica, id);
  if (!found) throw notFound(id);
  return c.json(found, 200);
};

export const updatePokemon: RouteHandler<typeof routes.updatePokemon, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { nickname, species, level } = c.req.valid('json');
  const trainer = c.var.principal?.trainer;
  const { primary } = c.var.services.db;
  const current = await checkIfMatch(c.req.header('If-Match'), () => pokemon.getPokemon(primary, id));
  const result = await pokemon.updatePokemon(primary, id, { nickname, species, level }, trainer, current);
  if (result.status === 'not-found') throw notFound(id);
  if (result.status === 'changed') throw preconditionFailed();
  if (result.status === 'not-owner') throw notYours(trainer!, `Pokémon "${id}" is not its own`);
  if (result.status === 'unknown-species') {
    throw new Problem('validation-failed', 'The Pokémon refers to an unknown species.', {
      errors: [unknownSpeciesError(species!, result.suggestions)],
    });
  }
  return c.json(result.pokemon, 200);
};

export const deletePokemon: RouteHandler<typeof routes.deletePokemon, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const trainer = c.var.principal?.trainer;
  const { primary } = c.var.services.db;
  const current = await checkIfMatch(c.req.header('If-Match'), () => pokemon.getPokemon(primary, id));
  const result = await pokemon.deletePokemon(primary, id, trainer, current);
  if (result.status === 'not-found') throw notFound(id);
  if (result.status === 'changed') throw preconditionFailed();
  if (result.status === 'not-owner') throw notYours(trainer!, `Pokémon "${id}" is not its own`);
  return c.body(null, 204);
};

export const getOwnershipHistory: RouteHandler<typeof routes.getOwnershipHistory, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const history = await pokemon.getOwnershipHistory(c.var.services.db.replica, id);
  if (!history) throw notFound(id);
  return c.json({ data: history }, 200);
};
