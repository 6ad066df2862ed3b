import { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from './env.ts';
import { sqlState } from './platform/database.ts';
import { findDependencyError } from './platform/dependency-error.ts';
import { requestContext } from './platform/middleware.ts';
import { Problem, problemResponse } from './platform/problem.ts';
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

  app.use('*', requestContext);

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
    if (error instanceof Problem) return problemResponse(c, error);
    const unavailable = findDependencyError(error);
    if (unavailable) {
      const name = unavailable.dependency === 'db' ? 'database' : 'cache';
      console.error(`[${c.get('requestId')}]`, unavailable.message);
      return problemResponse(
        c,
        new Problem('dependency-unavailable', `The ${name} did not answer; try again shortly.`, { dependency: name }, { 'Retry-After': '1' }),
      );
    }
    // Postgres's "data exception" class: a value the validators let through but the database refuses.
    if (sqlState(error)?.startsWith('22')) {
      return problemResponse(c, new Problem('validation-failed', 'A value in the request cannot be stored or compared by the database.'));
    }
    if (error instanceof HTTPException && error.status < 500) {
      const code = error.status === 413 ? 'payload-too-large' : error.status === 415 ? 'unsupported-media-type' : 'malformed-request';
      return problemResponse(c, new Problem(code, error.message));
    }
    console.error(`[${c.get('requestId')}] unhandled error`, error);
    return problemResponse(c, new Problem('internal-error', `Something went wrong on our side; quote request id ${c.get('requestId')} when reporting it.`));
  });

  return routes;
}
