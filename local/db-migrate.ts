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
import { fileURLToPath } from 'node:url';

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));

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
 * NEON_FETCH_ENDPOINT for a stand-in), else the stand-in that `npm run dev` serves.
 */
export function devDatabase(): MigrateTarget {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) return { databaseUrl, fetchEndpoint: process.env.NEON_FETCH_ENDPOINT };
  return {
    databaseUrl: 'postgresql://local:local@localhost/pokemon',
    fetchEndpoint: `http://127.0.0.1:${process.env.NEON_HTTP_PORT ?? 4444}/sql`,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const count = await migrate(devDatabase());
  console.log(count === 0 ? 'Database is up to date.' : `Applied ${count} migration(s).`);
}
