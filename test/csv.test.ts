import { describe, expect, it } from 'vitest';
import { CsvReader, type CsvRecord } from '../src/domain/uploads/csv.ts';

/** Reads `text` pushed `step` characters at a time. */
function read(text: string, step: number): CsvRecord[] {
  const reader = new CsvReader();
  const records: CsvRecord[] = [];
  for (let at = 0; at < text.length; at += step) records.push(...reader.push(text.slice(at, at + step)));
  return [...records, ...reader.end()];
}

describe('CsvReader', () => {
  const cases: [string, string, unknown[]][] = [
    ['CRLF, LF inside quotes, no final line break', 'a,b\r\n1,"x\ny"\r\n2,z', [[1, ['a', 'b']], [2, ['1', 'x\ny']], [4, ['2', 'z']]]],
    ['LF, CRLF inside quotes', 'a,b\n1,"x\r\ny"\n2,z\n', [[1, ['a', 'b']], [2, ['1', 'x\r\ny']], [4, ['2', 'z']]]],
    ['escaped quotes and commas', 'a,b\r\n1,"q"\r\n2,"r ""s"", t"\r\n', [[1, ['a', 'b']], [2, ['1', 'q']], [3, ['2', 'r "s", t']]]],
    ['blank lines are skipped but counted', 'a,b\n1,2\n\n3,4\n', [[1, ['a', 'b']], [2, ['1', '2']], [4, ['3', '4']]]],
    ['mixed line endings, empty last field', 'a,b\n1,2\r\n3,\n', [[1, ['a', 'b']], [2, ['1', '2']], [3, ['3', '']]]],
  ];

  it.each(cases)('reads %s the same however the text is split', (_name, text, expected) => {
    for (const step of [1, 2, 3, 7, text.length]) {
      expect(read(text, step).map((r) => [r.line, r.fields])).toEqual(expected);
    }
  });

  it('flags text after a closing quote and an unclosed quote, keeping the text', () => {
    const records = read('a,b\n1,"abc"x,2\n3,"open\n', 2);
    expect(records.map((r) => [r.line, r.fields, r.error?.detail])).toEqual([
      [1, ['a', 'b'], undefined],
      [2, ['1', 'abcx', '2'], expect.stringContaining('after its closing quote')],
      [3, ['3', 'open\n'], expect.stringContaining('never closed')],
    ]);
  });
});
