import type { RouteHandler } from '@hono/zod-openapi';
import * as pokemon from '../../domain/pokemon.ts';
import type { AppEnv } from '../../env.ts';
import { decodeCursor, toPage } from '../../platform/pagination.ts';
import { checkIfMatch, preconditionFailed } from '../../platform/preconditions.ts';
import { Problem } from '../../platform/problem.ts';
import { invalid, type FieldError, type ReferenceCheck } from '../../platform/validation.ts';
import { missingSpecies, unknownSpeciesSentence, type SpeciesRef } from '../../domain/species.ts';
import type * as routes from './pokemon.routes.ts';

const notFound = (id: string) => new Problem('not-found', `There is no Pokémon "${id}".`);
const notYours = (trainer: string, what: string) =>
  new Problem('forbidden', `A trainer key acts only for its own trainer ("${trainer}"): ${what}.`, { trainer });

function unknownSpeciesError(ref: SpeciesRef, suggestions: string[]): FieldError {
  return { pointer: '/species', detail: unknownSpeciesSentence('species', ref, suggestions), suggestions };
}

const unknownOwnerError = (owner: string): FieldError => ({ pointer: '/owner', detail: `owner must be an existing trainer; there is no "${owner}".` });

/**
 * The owner and species of a Pokémon body that failed validation elsewhere, checked against the
 * database so that the one 422 lists them too. A trainer key's body is checked for its own
 * trainer only: it learns nothing about other trainers.
 */
export const pokemonReferences: ReferenceCheck = async (c, body, failed) => {
  const trainer = c.var.principal?.trainer;
  const owner = typeof body.owner === 'string' && !failed.has('/owner') && (trainer === undefined || body.owner === trainer) ? body.owner : undefined;
  const species = (typeof body.species === 'string' || typeof body.species === 'number') && !failed.has('/species') ? body.species : undefined;
  if (owner === undefined && species === undefined) return [];
  const found = await pokemon.checkReferences(c.var.services.db.primary, { owner, species });
  return [...(found.ownerMissing ? [unknownOwnerError(owner!)] : []), ...(found.speciesMissing ? [unknownSpeciesError(species!, found.suggestions)] : [])];
};

export const createPokemon: RouteHandler<typeof routes.createPokemon, AppEnv> = async (c) => {
  const input = c.req.valid('json');
  const trainer = c.var.principal?.trainer;
  if (trainer !== undefined && input.owner !== trainer) throw notYours(trainer, `it cannot create a Pokémon owned by "${input.owner}"`);
  const result = await pokemon.createPokemon(c.var.services.db.primary, input);
  if (result.status === 'id-taken') {
    throw new Problem('conflict', `A Pokémon with id "${input.id}" already exists; it was not changed.`, {
      errors: [{ pointer: '/id', detail: 'id is taken.' }],
    });
  }
  if (result.status === 'invalid') {
    const errors = [
      ...(result.ownerMissing ? [unknownOwnerError(input.owner)] : []),
      ...(result.speciesMissing ? [unknownSpeciesError(input.species, result.suggestions)] : []),
    ];
    if (result.ownerBornOn !== undefined) {
      errors.push({ pointer: '/dateOfOwnership', detail: `dateOfOwnership must not be before the owner's date of birth (${result.ownerBornOn}).` });
    }
    throw invalid(errors);
  }
  return c.json(result.pokemon, 201, { Location: `/pokemon/${encodeURIComponent(result.pokemon.id)}` });
};

export const listPokemon: RouteHandler<typeof routes.listPokemon, AppEnv> = async (c) => {
  const { limit, cursor, ...filters } = c.req.valid('query');
  const { replica } = c.var.services.db;
  const rows = await pokemon.listPokemon(replica, filters, { limit, after: decodeCursor<string>(cursor, 'string') });
  // An empty page may mean a misspelt species: say so rather than answer "none" (a second round trip only then).
  const suggestions = rows.length === 0 && filters.species !== undefined ? (await missingSpecies(replica, [filters.species])).get(filters.species) : undefined;
  if (suggestions) {
    throw invalid([{ parameter: 'species', detail: unknownSpeciesSentence('species', filters.species!, suggestions), suggestions }], 'query');
  }
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
    throw invalid([unknownSpeciesError(species!, result.suggestions)]);
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
