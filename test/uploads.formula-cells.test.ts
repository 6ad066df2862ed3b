import { describe, expect, it } from 'vitest';
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
});
