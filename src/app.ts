import { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './env.ts';
import { withSecurity } from './openapi/security.ts';
import { authenticate } from './http/auth.ts';
import { crossOrigin, secureHeadersOptions } from './http/headers.ts';
import { readCache } from './platform/read-cache.ts';
import { Problem, problemFor, problemResponse } from './platform/problem.ts';
import { services } from './platform/services.ts';
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

  app.use('*', secureHeaders(secureHeadersOptions));
  app.use('*', services);
  app.use('*', crossOrigin);
  app.use('*', authenticate);
  app.use('*', readCache);

  const routes = app
    .route('/', healthRoutes)
    .route('/', problemRoutes)
    .route('/', trainerRoutes)
    .route('/', pokemonRoutes)
    .route('/', speciesRoutes)
    .route('/', exchangeRoutes)
    .route('/', offerRoutes)
    .route('/', uploadRoutes)
    .route('/', keyRoutes);

  // The OpenAPI document is generated from the same zod schemas that validate requests, and its
  // security from the same rule the middleware enforces.
  const documentConfig = {
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
      { name: 'Offers', description: 'Trades one trainer proposes and the other accepts: consent, then one atomic exchange.' },
      { name: 'Uploads' },
      { name: 'Keys', description: 'API keys (admin only).' },
      { name: 'Operations' },
    ],
  };
  app.get('/openapi.json', (c) => c.json(withSecurity(app.getOpenAPI31Document(documentConfig), c.var.services.config.auth.publicReads)));
  app.use('/docs', async (c, next) => {
    await next();
    // Scalar's page loads its script from jsDelivr and runs an inline configuration.
    c.header(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; " +
        "font-src 'self' data: https://cdn.jsdelivr.net https://fonts.scalar.com; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'",
    );
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
