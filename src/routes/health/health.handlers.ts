import { sql } from 'drizzle-orm';
import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { lsnFromText } from '../../platform/bookmark.ts';
import { errorChain, findDependencyError } from '../../platform/dependency-error.ts';
import { Problem } from '../../platform/problem.ts';
import { noteError } from '../../platform/request-log.ts';
import type { getHealth } from './health.routes.ts';

interface Check {
  status: 'ok' | 'unavailable';
  latencyMs: number;
  /** The kind of failure; the details go to the log only. */
  error?: string;
}

/** What kind of failure `error` is, in words that disclose nothing about the deployment. */
function failureKind(error: unknown): string {
  if (!findDependencyError(error)) return 'answered with an error';
  for (const link of errorChain(error)) if (link.name === 'TimeoutError') return 'did not answer in time';
  return 'could not be reached';
}

async function check<T>(c: Context, name: string, probe: () => Promise<T>): Promise<Check & { value?: T }> {
  const start = performance.now();
  const latencyMs = () => Number((performance.now() - start).toFixed(1));
  try {
    const value = await probe();
    return { status: 'ok', latencyMs: latencyMs(), value };
  } catch (error) {
    noteError(c, `health: ${name}`, error);
    return { status: 'unavailable', latencyMs: latencyMs(), error: failureKind(error) };
  }
}

export const healthHandler: RouteHandler<typeof getHealth, AppEnv> = async (c) => {
  const { db, redis, config } = c.var.services;
  const [primary, redisCheck, ...replicaChecks] = await Promise.all([
    check(c, 'database', async () => (await db.primary.execute<{ lsn: string }>(sql`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0]!.lsn),
    check(c, 'redis', () => redis.ping()),
    ...config.database.replicaUrls.map((url, index) =>
      check(c, `replica-${index + 1}`, async () => {
        const { rows } = await db.pinnedTo(url).execute<{ lsn: string; seconds: number | null }>(sql`
          SELECT coalesce(pg_last_wal_replay_lsn(), pg_current_wal_insert_lsn())::text AS lsn,
                 extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS seconds`);
        return rows[0]!;
      }),
    ),
  ]);
  const { value: primaryLsn, ...database } = primary;
  const { value: _pong, ...redisResult } = redisCheck;
  const replicas = replicaChecks.map(({ value, ...result }, index) => ({
    name: `replica-${index + 1}`,
    ...result,
    ...(value && primaryLsn !== undefined
      ? {
          lagBytes: Number(lsnFromText(primaryLsn) > lsnFromText(value.lsn) ? lsnFromText(primaryLsn) - lsnFromText(value.lsn) : 0n),
          secondsSinceReplayedCommit: value.seconds === null ? null : Number(value.seconds.toFixed(3)),
        }
      : {}),
  }));
  const checks = { database, redis: redisResult, replicas };
  const failed = Object.entries({ database, redis: redisResult })
    .filter(([, result]) => result.status !== 'ok')
    .map(([name]) => name);
  if (failed.length > 0) {
    throw new Problem(
      'dependency-unavailable',
      `Unavailable: ${failed.join(' and ')}.`,
      { dependency: failed[0], dependencies: failed, checks },
      { 'Retry-After': '1', 'Cache-Control': 'no-store' },
    );
  }
  // A replica that is down costs reads a detour to the primary, not the service.
  const status = replicas.every((replica) => replica.status === 'ok') ? ('ok' as const) : ('degraded' as const);
  return c.json({ status, checks: { ...checks, database: database as Check & { status: 'ok' } } }, 200, { 'Cache-Control': 'no-store' });
};
