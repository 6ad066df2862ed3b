import type { RouteHandler } from '@hono/zod-openapi';
import * as trainers from '../../domain/trainers.ts';
import type { AppEnv } from '../../env.ts';
import { decodeCursor, toPage } from '../../platform/pagination.ts';
import { checkIfMatch, preconditionFailed } from '../../platform/preconditions.ts';
import { Problem } from '../../platform/problem.ts';
import type * as routes from './trainers.routes.ts';

const notFound = (id: string) => new Problem('not-found', `There is no trainer "${id}".`);

export const createTrainer: RouteHandler<typeof routes.createTrainer, AppEnv> = async (c) => {
  const input = c.req.valid('json');
  const trainer = await trainers.createTrainer(c.var.services.db.primary, input);
  if (!trainer) {
    throw new Problem('conflict', `A trainer with id "${input.id}" already exists; it was not changed.`, { errors: [{ pointer: '/id', detail: 'id is taken.' }] });
  }
  return c.json(trainer, 201, { Location: `/trainers/${encodeURIComponent(trainer.id)}` });
};

export const listTrainers: RouteHandler<typeof routes.listTrainers, AppEnv> = async (c) => {
  const { limit, cursor, q } = c.req.valid('query');
  const rows = await trainers.listTrainers(c.var.services.db.replica, { limit, q, after: decodeCursor<string>(cursor, 'string') });
  return c.json(toPage(rows, limit, (trainer) => trainer.id), 200);
};

export const getTrainer: RouteHandler<typeof routes.getTrainer, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const trainer = await trainers.getTrainer(c.var.services.db.replica, id);
  if (!trainer) throw notFound(id);
  return c.json(trainer, 200);
};

export const updateTrainer: RouteHandler<typeof routes.updateTrainer, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { id: _immutable, ...changes } = c.req.valid('json');
  const { primary } = c.var.services.db;
  const current = await checkIfMatch(c.req.header('If-Match'), () => trainers.getTrainer(primary, id));
  const result = await trainers.updateTrainer(primary, id, changes, current);
  if (result.status === 'not-found') throw notFound(id);
  if (result.status === 'changed') throw preconditionFailed();
  if (result.status === 'born-after-ownership') {
    throw new Problem('validation-failed', `Trainer "${id}" has owned a Pokémon since ${result.firstOwned}; they cannot be born after that.`, {
      errors: [{ pointer: '/dateOfBirth', detail: `dateOfBirth must not be after ${result.firstOwned}, when they came to own one of their Pokémon.` }],
    });
  }
  return c.json(result.trainer, 200);
};

export const deleteTrainer: RouteHandler<typeof routes.deleteTrainer, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { primary } = c.var.services.db;
  const current = await checkIfMatch(c.req.header('If-Match'), () => trainers.getTrainer(primary, id));
  const result = await trainers.deleteTrainer(primary, id, c.req.valid('query').cascade === 'true', current);
  if (result.status === 'not-found') throw notFound(id);
  if (result.status === 'changed') throw preconditionFailed();
  if (result.status === 'owns-pokemon') {
    throw new Problem(
      'conflict',
      `Trainer "${id}" owns ${result.pokemonCount ?? 'some'} Pokémon; trade or delete them first, or delete with ?cascade=true.`,
      { pokemonCount: result.pokemonCount },
    );
  }
  return c.body(null, 204);
};
