/** The response-header middleware every request passes (src/app.ts), kept apart so bench/middleware.ts measures the same. */
import type { Context } from 'hono';
import { cors } from 'hono/cors';
import { createMiddleware } from 'hono/factory';
import type { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../env.ts';

/**
 * API answers are data, never pages: no script, no framing. The set OWASP's REST Security Cheat
 * Sheet names for APIs (CSP, HSTS, nosniff, X-Frame-Options) plus no referrer and same-origin
 * CORP; hono's defaults for documents (Origin-Agent-Cluster, COOP, X-XSS-Protection,
 * X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies) would only
 * weigh on every answer. `/docs` sets its own policy.
 */
export const secureHeadersOptions: Parameters<typeof secureHeaders>[0] = {
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  xFrameOptions: 'DENY',
  originAgentCluster: false,
  crossOriginOpenerPolicy: false,
  xXssProtection: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  overwrite: false,
};

const corsForOrigins = cors({
  origin: (origin: string, c: Context<AppEnv>) => (c.var.services.config.auth.corsOrigins.includes(origin) ? origin : null),
  allowMethods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
  allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Bookmark', 'X-Request-Id', 'If-Match', 'If-None-Match', 'Upload-Offset', 'Upload-Complete'],
  exposeHeaders: [
    'X-Request-Id', 'Server-Timing', 'Location', 'ETag', 'Retry-After', 'Idempotent-Replayed', 'RateLimit', 'RateLimit-Policy', 'X-Bookmark', 'WWW-Authenticate',
    'Upload-Offset', 'Upload-Complete', 'Upload-Limit', 'Upload-Length',
  ],
  maxAge: 600,
});

/**
 * CORS for requests that carry `Origin` (a browser sends it on every cross-origin request) and
 * for preflights; the others (most of an API's traffic) only learn that the answer varies with
 * it, and skip the CORS headers no one would read.
 */
export const crossOrigin = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.header('Origin') !== undefined || c.req.method === 'OPTIONS') return corsForOrigins(c, next);
  await next();
  c.header('Vary', 'Origin', { append: true });
});
