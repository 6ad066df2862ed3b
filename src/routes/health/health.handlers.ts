import { sql } from 'drizzle-orm';
import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { Problem } from '../../platform/problem.ts';
import type { getHealth } from './health.routes.ts';

interface Check {
  status: 'ok' | 'unavailable';
  latencyMs: number;
  error?: string;
}

async function check(probe: () => Promise<unknown>): Promise<Check> {
  const start = performance.now();
  try {
    await probe();
    return { status: 'ok', latencyMs: Number((performance.now() - start).toFixed(1)) };
  } catch (error) {
    return {
      status: 'unavailable',
      latencyMs: Number((performance.now() - start).toFixed(1)),
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

export const healthHandler: RouteHandler<typeof getHealth, AppEnv> = async (c) => {
  const [database, cache] = await Promise.all([
    check(() => c.var.db.execute(sql`select 1`)),
    check(() => c.var.cache.ping()),
  ]);
  const failed = Object.entries({ database, cache })
    .filter(([, result]) => result.status !== 'ok')
    .map(([name]) => name);
  if (failed.length > 0) {
    throw new Problem(
      'dependency-unavailable',
      `Unavailable: ${failed.join(' and ')}.`,
      { dependency: failed[0], dependencies: failed, checks: { database, cache } },
      { 'Retry-After': '1', 'Cache-Control': 'no-store' },
    );
  }
  return c.json({ status: 'ok' as const, checks: { database: database as Check & { status: 'ok' }, cache } }, 200, {
    'Cache-Control': 'no-store',
  });
};
