import { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './env.ts';
import { apiDocument } from './openapi/document.ts';
import { docsPage } from './openapi/reference.ts';
import { authenticate } from './http/auth.ts';
import { crossOrigin, secureHeadersOptions } from './http/headers.ts';
import { readCache } from './platform/read-cache.ts';
import { requestLog } from './platform/request-log.ts';
import { problemFor } from './http/errors.ts';
import { Problem, problemResponse } from './platform/problem.ts';
import { services } from './platform/services.ts';
import { rootRoutes } from './routes/root/root.index.ts';
import { healthRoutes } from './routes/health/health.index.ts';
import { keyRoutes } from './routes/keys/keys.index.ts';
import { exchangeRoutes } from './routes/exchanges/exchanges.index.ts';
import { offerRoutes } from './routes/offers/offers.index.ts';
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

  app.use('*', requestLog);
  app.use('*', secureHeaders(secureHeadersOptions));
  app.use('*', services);
  app.use('*', crossOrigin);
  app.use('*', authenticate);
  app.use('*', readCache);

  const routes = app
    .route('/', rootRoutes)
    .route('/', healthRoutes)
    .route('/', problemRoutes)
    .route('/', trainerRoutes)
    .route('/', pokemonRoutes)
    .route('/', speciesRoutes)
    .route('/', exchangeRoutes)
    .route('/', offerRoutes)
    .route('/', uploadRoutes)
    .route('/', keyRoutes);

  // The OpenAPI document is generated from the same zod schemas that validate requests, and
  // completed by the same rules the middleware follows (src/openapi/document.ts).
  // Generating it costs tens of milliseconds of CPU: once per isolate, per origin and read policy.
  const documents = new Map<string, string>();
  app.get('/openapi.json', (c) => {
    const options = { publicReads: c.var.services.config.auth.publicReads, origin: new URL(c.req.url).origin };
    const key = JSON.stringify(options);
    let document = documents.get(key);
    if (document === undefined) {
      document = JSON.stringify(apiDocument(app, options));
      if (documents.size >= 16) documents.clear();
      documents.set(key, document);
    }
    return c.body(document, 200, { 'Content-Type': 'application/json' });
  });
  app.get('/docs', docsPage);

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
    // The error itself, with its stack, goes to the request's log line (request-log.ts), never into the answer.
    return problemResponse(c, problemFor(error, c.get('requestId')));
  });

  return routes;
}
