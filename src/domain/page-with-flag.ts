/**
 * "A flag and a page in one round trip": `SELECT head.flag, page.* FROM (SELECT <flag> FROM
 * (SELECT 1) AS one) AS head LEFT JOIN (<page query>) AS page ON true`. The head is always
 * exactly one row, so the flag (does the trainer / Pokémon / cursor row exist?) arrives even
 * when the page is empty; an empty page is that one row with every page column NULL.
 */
import { exists, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Database } from '../platform/database.ts';

/** `EXISTS (SELECT 1 FROM table WHERE where)`, read back as a boolean. */
export function existsWhere(db: Database, table: PgTable, where: SQL | undefined): SQL<boolean> {
  return exists(db.select({ one: sql`1` }).from(table).where(where)).mapWith(Boolean);
}

/** The one-row `head` carrying the flag, as a query to left-join the page onto. */
function flagHead(db: Database, flag: SQL<boolean>) {
  return db.select().from(db.select({ flag: flag.as('flag') }).from(sql`(SELECT 1) AS one`).as('head'));
}

/**
 * Runs `flag` and a page in one statement. `joinPage` left-joins the page subquery (aliased
 * `page`) onto the head `ON true` and orders by the page's columns, e.g.
 * `(head) => head.leftJoin(page, sql\`true\`).orderBy(asc(page.id))`. (The join is the caller's
 * because drizzle cannot type a join over a subquery whose selection is a type parameter; written
 * against the concrete subquery, the rows keep drizzle's own nullable types.)
 */
export async function pageWithFlag<TRow>(
  db: Database,
  flag: SQL<boolean>,
  joinPage: (head: ReturnType<typeof flagHead>) => PromiseLike<{ head: { flag: boolean }; page: TRow | null }[]>,
): Promise<{ flag: boolean; rows: TRow[] }> {
  const rows = await joinPage(flagHead(db, flag));
  return { flag: rows[0]?.head.flag === true, rows: rows.flatMap((row) => (row.page === null ? [] : [row.page])) };
}
