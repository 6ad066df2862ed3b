import { describe, expect, it } from 'vitest';
import { neutralised } from '../src/domain/uploads/kinds.ts';
import { call } from './support/api.ts';
import { uniqueId } from './support/fixtures.ts';

describe('uploads: neutralised formula cells', () => {
  it("takes one spreadsheet text marker ' off a text cell that would be a formula, and keeps every other '", async () => {
    const id = uniqueId('formula');
    const rows = [
      [`'-${id}`, "'=SUM(A1:A9)", "'Tis"],
      [`${id}-2`, "'''+twice", "'@handle"],
      [`${id}-3`, "'", "O'Brien"],
    ];
    const body = ['id,firstName,lastName,dateOfBirth', ...rows.map((row) => `${row.join(',')},2001-02-03`)].join('\r\n');
    const response = await call('/uploads?type=trainer', { method: 'POST', body, headers: { 'Content-Type': 'text/csv' } });
    expect(response.status).toBe(201);
    const { preview } = (await response.json()) as { preview: Record<string, string>[] };
    expect(preview.map(({ id, firstName, lastName }) => [id, firstName, lastName])).toEqual([
      [`-${id}`, '=SUM(A1:A9)', "'Tis"],
      [`${id}-2`, "''+twice", '@handle'],
      [`${id}-3`, "'", "O'Brien"],
    ]);
  });

  it('reads back exactly what an export wrote with neutralised(), formula-like or not', async () => {
    const id = uniqueId('export');
    const names = ['=HYPERLINK("x")', "'=already", '+1', 'Misty', "O'Brien"];
    expect(names.map(neutralised)).toEqual(['\'=HYPERLINK("x")', "''=already", "'+1", 'Misty', "O'Brien"]);
    const rows = names.map((name, index) => `${id}-${index},${neutralised(name).replaceAll('"', '""').replace(/^.*$/, (cell) => `"${cell}"`)},Oak,2001-02-03`);
    const body = ['id,firstName,lastName,dateOfBirth', ...rows].join('\r\n');
    const response = await call('/uploads?type=trainer', { method: 'POST', body, headers: { 'Content-Type': 'text/csv' } });
    expect(response.status, await response.clone().text()).toBe(201);
    const { preview } = (await response.json()) as { preview: Record<string, string>[] };
    expect(preview.map(({ firstName }) => firstName)).toEqual(names);
  });
});
