import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import app from '../src/index.ts';
import { call } from './support/api.ts';

type OpenApiDocument = {
  openapi: string;
  paths: Record<string, Record<string, { responses?: Record<string, unknown>; parameters?: unknown[] }>>;
  components: { schemas: Record<string, unknown> };
};

/** Every `$ref` in `node`, at any depth. */
function refs(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(refs);
  if (node && typeof node === 'object') {
    return Object.entries(node).flatMap(([key, value]) => (key === '$ref' && typeof value === 'string' ? [value] : refs(value)));
  }
  return [];
}

describe('GET /openapi.json', () => {
  it('names the origin it was asked at, for more origins than the isolate keeps documents for', async () => {
    // 16 documents are kept per isolate; the 17th origin starts the set again.
    for (let index = 0; index < 18; index++) {
      const origin = `http://api-${index}.test`;
      const response = await exports.default.fetch(new Request(`${origin}/openapi.json`));
      expect(response.status).toBe(200);
      expect(((await response.json()) as { servers: { url: string }[] }).servers[0]!.url).toBe(origin);
    }
  });

  it('is an OpenAPI 3.1 document that lists every route of the app', async () => {
    const response = await call('/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as OpenApiDocument;
    expect(document.openapi).toBe('3.1.0');
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const served = app.routes
      .filter((route) => route.method !== 'ALL' && !['/openapi.json', '/docs'].includes(route.path))
      .map((route) => `${route.method} ${route.path}`);
    expect(new Set(documented)).toEqual(new Set(served));
  });

  it('resolves every $ref and gives every operation a response and a problem schema for errors', async () => {
    const document = (await (await call('/openapi.json')).json()) as OpenApiDocument;
    const components = document.components as unknown as Record<string, Record<string, unknown>>;
    const target = (ref: string) => {
      const [, kind, name] = /^#\/components\/(schemas|responses|headers|parameters)\/([^/]+)$/.exec(ref) ?? [];
      return kind === undefined ? undefined : components[kind]?.[name!];
    };
    for (const ref of refs(document)) expect(target(ref), ref).toBeDefined();
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.keys(operation.responses ?? {});
        expect(statuses.length, `${method} ${path}`).toBeGreaterThan(0);
        for (const status of statuses.filter((s) => Number(s) >= 400)) {
          const response = operation.responses![status] as { $ref?: string; content?: Record<string, unknown> };
          const content = ((response.$ref ? target(response.$ref) : response) as { content: Record<string, unknown> }).content;
          expect(Object.keys(content), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        }
      }
    }
  });

  it('writes what operations share once, in components: every header, every problem response with nothing to add, the common parameters', async () => {
    const document = (await (await call('/openapi.json')).json()) as OpenApiDocument;
    const { responses } = document.components as unknown as { responses: Record<string, { description: string }> };
    const shared = new Set(Object.values(responses).map((response) => response.description));
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, { $ref?: string; headers?: Record<string, object>; content?: unknown }>)) {
          const where = `${method} ${path} ${status}`;
          for (const [name, header] of Object.entries(response.headers ?? {})) expect(header, `${where} ${name}`).toEqual({ $ref: expect.stringMatching(/^#\/components\/headers\//) });
          // Written out only to say more than the shared response (renderers ignore a description beside a $ref).
          if (Number(status) >= 400 && !response.$ref) expect(shared.has((response as { description: string }).description), where).toBe(false);
        }
        for (const name of ['X-Request-Id', 'X-Bookmark']) expect(operation.parameters, `${method} ${path}`).toContainEqual({ $ref: `#/components/parameters/${name}` });
      }
    }
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['NotFound', 'MethodNotAllowed', 'ValidationFailed', 'RateLimited', 'ServiceUnavailable', 'NotModified']));
  });
});

describe('the OpenAPI document describes itself', () => {
  it('gives every operation a unique operationId, a summary and a description, every tag a description, and servers and a license', async () => {
    const document = (await (await call('/openapi.json')).json()) as OpenApiDocument & {
      info: { license?: { name: string } };
      servers: { url: string }[];
      tags: { name: string; description?: string }[];
      paths: Record<string, Record<string, { operationId?: string; summary?: string; description?: string; tags?: string[] }>>;
    };
    expect(document.info.license?.name).toBeTruthy();
    expect(document.servers).toEqual([expect.objectContaining({ url: 'http://api.test' })]);
    for (const tag of document.tags) expect(tag.description, tag.name).toBeTruthy();
    const operations = Object.values(document.paths).flatMap((item) => Object.values(item));
    for (const operation of operations) {
      expect(operation.summary && operation.description, operation.operationId).toBeTruthy();
      for (const tag of operation.tags ?? []) expect(document.tags.map((t) => t.name)).toContain(tag);
    }
    const ids = operations.map((operation) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain(undefined);
  });
});

describe('security in the OpenAPI document', () => {
  it('declares the bearer scheme, and on every write its security and 401/403/429', async () => {
    const document = (await (await call('/openapi.json')).json()) as OpenApiDocument & {
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: unknown[]; responses?: Record<string, unknown> }>>;
    };
    expect(document.components.securitySchemes).toEqual({ bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const write = method !== 'get' || path.startsWith('/keys') || path.startsWith('/offers');
        expect(operation.security, `${method} ${path}`).toEqual(write ? [{ bearer: [] }] : [{}, { bearer: [] }]);
        for (const status of write ? ['401', '403', '429'] : ['401']) expect(operation.responses, `${method} ${path}`).toHaveProperty(status);
      }
    }
  });
});

describe('GET /docs', () => {
  it('serves the reference page: its scripts from this origin only, under a CSP that allows no other host', async () => {
    const response = await call('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toMatch(/text\/html/);
    const csp = response.headers.get('Content-Security-Policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*/);
    const html = await response.text();
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map(([, attributes]) => /src="([^"]+)"/.exec(attributes!)?.[1]);
    expect(scripts).toEqual(['/docs/scalar.js', '/docs/init.js']);
  });

  it('serves the pinned Scalar bundle and its start-up script as static assets', async () => {
    // Static assets are answered before the Worker runs (wrangler dev, deployed); here, from the binding.
    const asset = (path: string) => env.ASSETS.fetch(`http://api.test${path}`);
    const bundle = await asset('/docs/scalar.js');
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('Content-Type')).toMatch(/javascript/);
    expect((await bundle.text()).length).toBeGreaterThan(1_000_000);
    const init = await (await asset('/docs/init.js')).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('telemetry: false');
  });
});

describe('GET /', () => {
  it('names the API and its version, and links to the reference, the document, health and every resource — each of which answers', async () => {
    const response = await call('/', { key: null });
    expect(response.status).toBe(200);
    const index = (await response.json()) as { name: string; version: string; links: Record<string, string> };
    const document = (await (await call('/openapi.json')).json()) as { info: { title: string; version: string } };
    expect([index.name, index.version]).toEqual([document.info.title, document.info.version]);
    expect(Object.keys(index.links)).toEqual(['docs', 'openapi', 'health', 'trainers', 'pokemon', 'species', 'exchanges', 'offers', 'keys']);
    for (const href of Object.values(index.links)) expect((await call(href)).status, href).toBe(200);
  });
});
