/**
 * `pokemon export`: every trainer or Pokémon, page by page (keyset cursors, so rows added while
 * it runs are not read twice), as a CSV with the columns `upload` takes, in their order.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { UPLOAD_KINDS, type UploadType } from '../src/domain/uploads/kinds.ts';
import { Api, CliError, EXIT } from './client.ts';
import { csvLine } from './csv.ts';

const LIST_PATH: Record<UploadType, string> = { trainer: '/trainers', pokemon: '/pokemon' };
const PAGE_SIZE = 100;

type Item = Record<string, unknown> & { species?: { name: string } };

/** A listed item's cell for an upload column: Pokémon list their species as an object, uploads take its name. */
function cell(item: Item, column: string): string {
  const value = column === 'species' ? item.species?.name : item[column];
  return String(value ?? '');
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** Writes the CSV to `outPath` (or stdout) and returns how many rows it holds. */
export async function exportCsv(api: Api, type: UploadType, outPath: string | undefined): Promise<number> {
  const columns = UPLOAD_KINDS[type].columns.map((column) => column.name);
  const out = outPath ? createWriteStream(outPath) : process.stdout;
  const failed = outPath ? once(out, 'error').then(([error]) => Promise.reject(new CliError(`${outPath}: ${(error as Error).message}`, EXIT.usage))) : undefined;
  failed?.catch(() => {});
  const run = async () => {
    await write(out, csvLine(columns));
    let rows = 0;
    let cursor: string | null = null;
    do {
      const page: { data: Item[]; nextCursor: string | null } = await api.json(
        `${LIST_PATH[type]}?${new URLSearchParams({ limit: String(PAGE_SIZE), ...(cursor && { cursor }) })}`,
      );
      for (const item of page.data) await write(out, csvLine(columns.map((column) => cell(item, column))));
      rows += page.data.length;
      cursor = page.nextCursor;
    } while (cursor);
    if (outPath) {
      out.end();
      await once(out, 'finish');
    }
    return rows;
  };
  return failed ? Promise.race([run(), failed]) : run();
}
