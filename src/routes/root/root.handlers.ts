import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { API_NAME, API_VERSION } from '../../openapi/document.ts';
import type { getIndex } from './root.routes.ts';

const LINKS = {
  docs: '/docs',
  openapi: '/openapi.json',
  health: '/health',
  trainers: '/trainers',
  pokemon: '/pokemon',
  species: '/species',
  exchanges: '/exchanges',
  offers: '/offers',
  keys: '/keys',
} as const;

export const indexHandler: RouteHandler<typeof getIndex, AppEnv> = (c) => c.json({ name: API_NAME, version: API_VERSION, links: LINKS }, 200);
