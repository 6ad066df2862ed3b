/**
 * Applies the SQL migrations in `drizzle/` over Neon's HTTP protocol, so the same command
 * migrates a real Neon database and the local stand-in. Each migration runs in its own
 * transaction together with its bookkeeping row, so a failure leaves nothing half-applied
 * and a re-run applies only what is missing. Bookkeeping uses drizzle's own table.
 *
 * Usage: DATABASE_URL=… [NEON_FETCH_ENDPOINT=http://127.0.0.1:4444/sql] node local/db-migrate.ts
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error('DATABASE_URL is not set (the Neon connection string, or any postgresql:// URL for the local stand-in).');
    process.exit(2);
  }
  const count = await migrate({ databaseUrl, fetchEndpoint: process.env.NEON_FETCH_ENDPOINT });
  console.log(count === 0 ? 'Database is up to date.' : `Applied ${count} migration(s).`);
}
