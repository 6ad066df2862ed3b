import { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { AppEnv } from './env.ts';
import { Problem, problemFor, problemResponse } from './platform/problem.ts';
import { services } from './platform/services.ts';
import { healthRoutes } from './routes/health/health.index.ts';
import { exchangeRoutes } from './routes/exchanges/exchanges.index.ts';
import { pokemonRoutes } from './routes/pokemon/pokemon.index.ts';
import { problemRoutes } from './routes/problems/problems.index.ts';
import { speciesRoutes } from './routes/species/species.index.ts';
import { trainerRoutes } from './routes/trainers/trainers.index.ts';
import { uploadRoutes } from './routes/uploads/uploads.index.ts';

/** Methods that answer on `path`, from the registered routes (for 405 and `Allow`). */
function allowedMethods(app: OpenAPIHono<AppEnv>, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue;
    const pattern = new RegExp(`^${route.path.replace(/:[^/]+/g, '[^/]+')}/?$`);
    if (pattern.test(path)) methods.add(route.method);
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

/** Builds the API: middleware, routes, and RFC 9457 answers for every error. */
export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ strict: false });

  app.use('*', services);

  const routes = app
    .route('/', healthRoutes)
    .route('/', problemRoutes)
    .route('/', trainerRoutes)
    .route('/', pokemonRoutes)
    .route('/', speciesRoutes)
    .route('/', exchangeRoutes)
    .route('/', uploadRoutes);

  // The OpenAPI document is generated from the same zod schemas that validate requests.
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Pokémon Trainers API',
      version: '1.0.0',
      description: 'Trainers, their Pokémon, exchanges and CSV uploads. Every error is RFC 9457 `application/problem+json`.',
    },
    tags: [
      { name: 'Trainers' },
      { name: 'Pokémon' },
      { name: 'Species', description: 'The national Pokédex.' },
      { name: 'Exchanges' },
      { name: 'Uploads' },
      { name: 'Operations' },
    ],
  });
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'Pokémon Trainers API' }));

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    const allowed = allowedMethods(app, path);
    if (allowed.length > 0) {
      const detail = `${c.req.method} is not supported on ${path}; use ${allowed.join(', ')}.`;
      return problemResponse(c, new Problem('method-not-allowed', detail, { allowed }, { Allow: allowed.join(', ') }));
    }
    return problemResponse(c, new Problem('not-found', `No route matches ${c.req.method} ${path}.`));
  });

  app.onError((error, c) => {
    const requestId = c.get('requestId');
    const problem = problemFor(error, requestId);
    if (problem.status >= 500 && problem !== error) console.error(`[${requestId}] ${problem.code}`, error);
    return problemResponse(c, problem);
  });

  return routes;
}
