/**
 * Applies the SQL migrations in `drizzle/` over Neon's HTTP protocol, so the same command
 * migrates a real Neon database and the local stand-in. Each migration runs in its own
 * transaction together with its bookkeeping row, so a failure leaves nothing half-applied
 * and a re-run applies only what is missing. Bookkeeping uses drizzle's own table.
 *
 * Usage: npm run db:migrate (the `npm run dev` database), or
 *        DATABASE_URL=… [NEON_FETCH_ENDPOINT=http://127.0.0.1:4444/sql] npm run db:migrate
 */
import { neon, neonConfig } from '@neondatabase/serverless';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));

/** Where `npm run dev` records the bindings of the stand-ins it runs (mode 0600; removed when it stops). */
export const DEV_STANDINS_FILE = fileURLToPath(new URL('../.data/standins.json', import.meta.url));

export interface MigrateTarget {
  databaseUrl: string;
  /** The stand-in's `/sql` URL; omit for a real Neon database. */
  fetchEndpoint?: string | undefined;
}

/** Applies pending migrations; returns how many were applied. */
export async function migrate({ databaseUrl, fetchEndpoint }: MigrateTarget): Promise<number> {
  if (fetchEndpoint) neonConfig.fetchEndpoint = fetchEndpoint;
  const sql = neon(databaseUrl);
  await sql.transaction([
    sql`CREATE SCHEMA IF NOT EXISTS drizzle`,
    sql`CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`,
  ]);
  const applied = new Set((await sql`SELECT hash FROM drizzle.__drizzle_migrations`).map((row) => row.hash as string));
  let count = 0;
  for (const migration of readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER })) {
    if (applied.has(migration.hash)) continue;
    await sql.transaction([
      ...migration.sql.filter((statement) => statement.trim() !== '').map((statement) => sql.query(statement)),
      sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${migration.hash}, ${migration.folderMillis})`,
    ]);
    count += 1;
  }
  return count;
}

/**
 * The database the command-line tools act on: DATABASE_URL (a Neon connection string, with
 * NEON_FETCH_ENDPOINT for a stand-in), else the stand-in that a running `npm run dev` serves,
 * as it recorded in `.data/standins.json` (its password changes on every start).
 */
export function devDatabase(): MigrateTarget {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) return { databaseUrl, fetchEndpoint: process.env.NEON_FETCH_ENDPOINT };
  let bindings: { DATABASE_URL?: unknown; NEON_FETCH_ENDPOINT?: unknown };
  try {
    bindings = JSON.parse(readFileSync(DEV_STANDINS_FILE, 'utf8')) as typeof bindings;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new Error('DATABASE_URL is not set and `npm run dev` is not running (no .data/standins.json): start it, or set DATABASE_URL');
  }
  if (typeof bindings.DATABASE_URL !== 'string' || typeof bindings.NEON_FETCH_ENDPOINT !== 'string') {
    throw new Error(`${DEV_STANDINS_FILE} lacks DATABASE_URL / NEON_FETCH_ENDPOINT`);
  }
  return { databaseUrl: bindings.DATABASE_URL, fetchEndpoint: bindings.NEON_FETCH_ENDPOINT };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const count = await migrate(devDatabase());
  console.log(count === 0 ? 'Database is up to date.' : `Applied ${count} migration(s).`);
}
