/**
 * The CLI as a user runs it — `node cli/pokemon.ts …` with pipes (so not a terminal) — against
 * the dev stack that global-setup.ts started.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { API_URL, STACK } from './stack.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
const prefix = `cli${randomBytes(3).toString('hex')}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `pokemon …args` with the dev stack's URL and admin key in the environment (unless `env` says otherwise). */
function pokemon(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, POKEMON_API_URL: API_URL, POKEMON_API_KEY: STACK.adminKey, ...env };
  for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name];
  const child = spawn(process.execPath, ['cli/pokemon.ts', ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A request to the API with the admin key, answering JSON (asserting the status). */
async function api(path: string, init: RequestInit & { json?: unknown } = {}, status = 200): Promise<any> {
  const response = await fetch(`${API_URL}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${STACK.adminKey}`, ...(init.json !== undefined && { 'Content-Type': 'application/json' }), ...init.headers },
    ...(init.json !== undefined && { body: JSON.stringify(init.json) }),
  });
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return text ? JSON.parse(text) : undefined;
}

function file(name: string, contents: string): string {
  const path = join(dir, name);
  writeFileSync(path, contents);
  return path;
}

function trainerCsv(tag: string, count: number): string {
  const rows = Array.from({ length: count }, (_, i) => `${prefix}-${tag}-${i},First${i},Last${i},${String((i % 28) + 1).padStart(2, '0')}-0${(i % 9) + 1}-1990\r\n`);
  return `id,firstName,lastName,dateOfBirth\r\n${rows.join('')}`;
}

/** Output lines (a line per progress report when stderr is not a terminal). */
const lines = (text: string) => text.split('\n').filter(Boolean);
const PROGRESS_LINE = /^(\d+)% \d+(\.\d)? (B|KiB|MiB) \/ \d+(\.\d)? (B|KiB|MiB), (\d+) rows, \d+(\.\d)? (B|KiB|MiB)\/s, ETA (\d+s|\d+m\d\ds|\?)$/;

describe('pokemon upload', () => {
  it('reports progress as plain lines when stderr is not a terminal, then prints the staged upload', async () => {
    const path = file('progress.csv', trainerCsv('progress', 3000));
    const run = await pokemon(['upload', path, '--type', 'trainer', '--piece-size', '16KiB']);
    expect(run.stderr).not.toMatch(/[\r\x1b]/);
    const progress = lines(run.stderr);
    // A line at each of the ~7 pieces' ends at least, never going back.
    expect(progress.length).toBeGreaterThanOrEqual(6);
    for (const line of progress) expect(line).toMatch(PROGRESS_LINE);
    const percents = progress.map((line) => Number(PROGRESS_LINE.exec(line)![1]));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(progress.at(-1)).toMatch(/^100% .*, 3000 rows, /);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('status: staged');
    expect(run.stdout).toContain('rows: 3000');
    const id = /^id: (.+)$/m.exec(run.stdout)![1]!;
    expect(await api(`/uploads/${id}`)).toMatchObject({ status: 'staged', rows: 3000, type: 'trainer' });
  });

  it('prints every row error as a table (line, column, value, problem), stages nothing and exits 1', async () => {
    const path = file(
      'errors.csv',
      ['id,firstName,lastName,dateOfBirth', `${prefix}-e1,Ash,Ketchum,31-02-2001`, `${prefix}-e2,"Misty, the",Waterflower,2099-01-01`, `bad id!,Brock,Harrison,2001-01-01`, ''].join('\r\n'),
    );
    const run = await pokemon(['upload', path, '--type', 'trainer', '--commit']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const table = lines(run.stderr).filter((line) => !PROGRESS_LINE.test(line));
    expect(table[0]).toMatch(/^line\s+column\s+value\s+problem$/);
    expect(table[1]).toMatch(/^-+\s+-+\s+-+\s+-+$/);
    expect(table.slice(2, 5)).toEqual([
      expect.stringMatching(/^2\s+dateOfBirth\s+31-02-2001\s+must be a real date/),
      expect.stringMatching(/^3\s+dateOfBirth\s+2099-01-01\s+must not be in the future/),
      expect.stringMatching(/^4\s+id\s+bad id!\s+must be 1–64 characters/),
    ]);
    expect(table.at(-1)).toMatch(/^pokemon: 422 .*nothing was staged/);
    const listed = await api(`/trainers?q=${prefix}-e`);
    expect(listed.data).toEqual([]);
  });

  it('says in one line that the key was refused, or that there is none, and exits 3', async () => {
    const path = file('refused.csv', trainerCsv('refused', 2));
    const refused = await pokemon(['upload', path, '--type', 'trainer'], { POKEMON_API_KEY: 'not-a-key-of-this-service' });
    expect(refused.code).toBe(3);
    expect(lines(refused.stderr).filter((line) => !PROGRESS_LINE.test(line))).toEqual([expect.stringMatching(/^pokemon: The API refused the key \(401\): /)]);
    const missing = await pokemon(['commit', '00000000-0000-4000-8000-000000000000'], { POKEMON_API_KEY: undefined });
    expect(missing.code).toBe(3);
    expect(lines(missing.stderr)).toEqual([expect.stringMatching(/^pokemon: The API needs a key \(--key or POKEMON_API_KEY\) \(401\): /)]);
  });

  it('says in one line that the API cannot be reached, and exits 4', async () => {
    const run = await pokemon(['status', '00000000-0000-4000-8000-000000000000', '--url', `http://127.0.0.1:${STACK.closedPort}`]);
    expect(run.code).toBe(4);
    expect(lines(run.stderr)).toEqual([`pokemon: Cannot reach http://127.0.0.1:${STACK.closedPort}: connect ECONNREFUSED 127.0.0.1:${STACK.closedPort}`]);
  });

  it('refuses a bad command line or a missing file with exit code 2', async () => {
    expect((await pokemon(['upload', join(dir, 'missing.csv'), '--type', 'trainer'])).code).toBe(2);
    expect((await pokemon(['upload', join(dir, 'missing.csv'), '--type', 'trainers'])).code).toBe(2);
    expect((await pokemon(['upload', join(dir, 'missing.csv')])).code).toBe(2);
  });
});

/**
 * A proxy in front of the API that spoils one append, the first at a non-zero offset: it
 * forwards only its first `cutAfter` bytes and then drops both connections, as a network failure
 * would, or it sends it on with an `Upload-Offset` `shift` bytes off. It records every request it
 * passes on (method, `Upload-Offset` sent, `Upload-Offset` answered, status).
 */
async function faultyProxy(fault: { cutAfter: number } | { shift: number }) {
  const seen: { method: string; sent?: string; answered?: string; status?: number; spoiled?: boolean }[] = [];
  let spoiled = false;
  const server = createServer((incoming, outgoing) => {
    const entry: (typeof seen)[number] = { method: incoming.method!, sent: incoming.headers['upload-offset'] as string | undefined };
    seen.push(entry);
    const spoil = !spoiled && incoming.method === 'PATCH' && Number(entry.sent) > 0;
    const headers = { ...incoming.headers };
    if (spoil && 'shift' in fault) headers['upload-offset'] = String(Number(entry.sent) + fault.shift);
    const upstream = request(`${API_URL}${incoming.url}`, { method: incoming.method, headers }, (answer: IncomingMessage) => {
      entry.answered = answer.headers['upload-offset'] as string | undefined;
      entry.status = answer.statusCode;
      outgoing.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(outgoing);
    });
    upstream.on('error', () => outgoing.destroy());
    if (spoil) spoiled = entry.spoiled = true;
    if (!spoil || !('cutAfter' in fault)) {
      incoming.pipe(upstream);
      return;
    }
    let forwarded = 0;
    incoming.on('data', (chunk: Buffer) => {
      if (forwarded >= fault.cutAfter) return;
      const part = chunk.subarray(0, fault.cutAfter - forwarded);
      forwarded += part.length;
      // Once the last of them is handed to the socket, break both connections mid-body.
      upstream.write(part, () => {
        if (forwarded < fault.cutAfter) return;
        upstream.destroy();
        incoming.socket.destroy();
      });
    });
  });
  server.listen(STACK.proxyPort, '127.0.0.1');
  await once(server, 'listening');
  return { seen, url: `http://127.0.0.1:${STACK.proxyPort}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('pokemon upload in pieces', () => {
  it('resends a piece whose connection broke from the offset the server reports, counting nothing twice', async () => {
    const count = 4000;
    const path = file('resume.csv', trainerCsv('resume', count));
    const proxy = await faultyProxy({ cutAfter: 10_000 });
    try {
      const run = await pokemon(['upload', path, '--type', 'trainer', '--piece-size', '64KiB', '--commit'], { POKEMON_API_URL: proxy.url });
      expect(run.code, run.stderr).toBe(0);
      const cutAt = proxy.seen.findIndex((entry) => entry.spoiled);
      expect(cutAt).toBeGreaterThan(0);
      // After the cut: HEAD for the offset, then the append from exactly there.
      const [head, resumed] = proxy.seen.slice(cutAt + 1);
      expect(head).toMatchObject({ method: 'HEAD' });
      // The server kept the bytes that arrived before the cut: the resend starts mid-piece.
      expect(Number(head!.answered)).toBeGreaterThan(Number(proxy.seen[cutAt]!.sent));
      expect(resumed).toMatchObject({ method: 'PATCH', sent: head!.answered });
      expect(run.stderr).toMatch(/^the piece at byte \d+ failed \(Cannot reach .*\); going on from the server's offset \(retry 1 of 5\)$/m);
      const progress = lines(run.stderr).filter((line) => PROGRESS_LINE.test(line));
      expect(progress.at(-1)).toMatch(new RegExp(`^100% .*, ${count} rows, `));
      expect(run.stdout).toMatch(/^status: committed$/m);
      expect(run.stdout).toMatch(new RegExp(`^inserted: ${count}$`, 'm'));
    } finally {
      await proxy.close();
    }
    const last = await api(`/trainers/${prefix}-resume-${count - 1}`);
    expect(last).toMatchObject({ firstName: `First${count - 1}`, lastName: `Last${count - 1}` });
  });

  it('goes on from the offset a 409 names when an append was sent at the wrong one', async () => {
    const count = 3000;
    const path = file('offset.csv', trainerCsv('offset', count));
    const proxy = await faultyProxy({ shift: 1000 });
    try {
      const run = await pokemon(['upload', path, '--type', 'trainer', '--piece-size', '32KiB'], { POKEMON_API_URL: proxy.url });
      expect(run.code, run.stderr).toBe(0);
      const at = proxy.seen.findIndex((entry) => entry.spoiled);
      expect(proxy.seen[at]).toMatchObject({ status: 409, answered: proxy.seen[at]!.sent });
      expect(proxy.seen[at + 1]).toMatchObject({ method: 'PATCH', sent: proxy.seen[at]!.sent, status: 204 });
      expect(run.stderr).toMatch(/^the piece at byte \d+ failed \(409 .*\); going on from the server's offset \(retry 1 of 5\)$/m);
      expect(run.stdout).toMatch(new RegExp(`^rows: ${count}$`, 'm'));
    } finally {
      await proxy.close();
    }
  });
});

describe('pokemon status and commit', () => {
  it('shows a staged upload, commits it exactly once, and exits 1 for an unknown upload', async () => {
    const staged = await pokemon(['upload', file('commit.csv', trainerCsv('commit', 5)), '--type', 'trainer']);
    expect(staged.code).toBe(0);
    const id = /^id: (.+)$/m.exec(staged.stdout)![1]!;
    const status = await pokemon(['status', id]);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(status.stdout).toMatch(/^status: staged$/m);
    const first = await pokemon(['commit', id]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^status: committed$/m);
    expect(first.stdout).toMatch(/^inserted: 5$/m);
    const again = await pokemon(['commit', id]);
    expect(again.stdout).toMatch(/^inserted: 5$/m);
    expect((await api(`/trainers?q=${prefix}-commit`)).data).toHaveLength(5);
    const unknown = await pokemon(['status', '00000000-0000-4000-8000-000000000000']);
    expect(unknown.code).toBe(1);
    expect(lines(unknown.stderr)).toEqual([expect.stringMatching(/^pokemon: 404 .*no upload/)]);
  });
});

describe('pokemon export', () => {
  /** Values a spreadsheet would run as formulas, CSV's special characters, a leading apostrophe that is data. */
  const awkward = ['=SUM(A1:A9)', '+44 20 7946 0000', '-minus', '@handle', "'=already escaped", "''+twice", "'Tis", 'comma, "quote"', 'line\nbreak', 'Ünïcödé 🐉'];

  it('writes CSV that upload reads back exactly, formula cells neutralised with a leading apostrophe', async () => {
    const ids = awkward.map((_, i) => (i === 2 ? `-${prefix}-dash` : `${prefix}-x${i}`));
    for (const [i, name] of awkward.entries()) {
      await api('/trainers', { method: 'POST', json: { id: ids[i], firstName: name, lastName: awkward.at(-1 - i), dateOfBirth: '2001-02-03' } }, 201);
      await api('/pokemon', { method: 'POST', json: { id: `${ids[i]}-mon`, nickname: name, species: 'Mr. Mime', level: i + 1, owner: ids[i], dateOfOwnership: '2020-01-01' } }, 201);
    }
    const trainers = join(dir, 'trainers.csv');
    const pokemonFile = join(dir, 'pokemon.csv');
    expect(await pokemon(['export', '--type', 'trainer', '--out', trainers])).toMatchObject({ code: 0, stdout: '' });
    expect(await pokemon(['export', '--type', 'pokemon', '--out', pokemonFile])).toMatchObject({ code: 0 });
    const exported = { trainers: readFileSync(trainers, 'utf8'), pokemon: readFileSync(pokemonFile, 'utf8') };
    expect(exported.trainers.split('\r\n')[0]).toBe('id,firstName,lastName,dateOfBirth');
    expect(exported.pokemon.split('\r\n')[0]).toBe('id,nickname,species,level,owner,dateOfOwnership');
    expect(exported.trainers).toContain(`\r\n'-${prefix}-dash,'-minus,`);
    expect(exported.trainers).toContain(`\r\n${prefix}-x0,'=SUM(A1:A9),`);
    expect(exported.trainers).toContain(`\r\n${prefix}-x5,'''+twice,`);
    expect(exported.trainers).toContain(`\r\n${prefix}-x6,'Tis,`);
    expect(exported.trainers).toContain(`\r\n${prefix}-x7,"comma, ""quote""",`);
    expect(exported.pokemon).toContain(`\r\n'-${prefix}-dash-mon,'-minus,Mr. Mime,3,'-${prefix}-dash,2020-01-01\r\n`);

    // Change every row, then put the exported files back: the next export must be byte for byte the first.
    for (const [i, id] of ids.entries()) {
      await api(`/trainers/${encodeURIComponent(id)}`, { method: 'PATCH', json: { firstName: 'Changed', lastName: 'Changed' } });
      await api(`/pokemon/${encodeURIComponent(`${id}-mon`)}`, { method: 'PATCH', json: { nickname: 'Changed', level: 100 - i } });
    }
    for (const [type, path] of [['trainer', trainers], ['pokemon', pokemonFile]] as const) {
      const run = await pokemon(['upload', path, '--type', type, '--on-conflict', 'update', '--commit']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^status: committed$/m);
    }
    const again = await pokemon(['export', '--type', 'trainer']);
    expect(again.stdout).toBe(exported.trainers);
    expect((await pokemon(['export', '--type', 'pokemon'])).stdout).toBe(exported.pokemon);
    const dash = await api(`/trainers/${encodeURIComponent(ids[2]!)}`);
    expect(dash).toMatchObject({ firstName: '-minus', lastName: awkward.at(-3) });
    expect(await api(`/trainers/${prefix}-x4`)).toMatchObject({ firstName: "'=already escaped" });
  });
  it('stops quietly, exit code 0, when its reader has read enough (export | head)', async () => {
    // More rows than a pipe holds, so that the export is still writing when head has gone.
    expect((await pokemon(['upload', file('many.csv', trainerCsv('many', 3000)), '--type', 'trainer', '--commit'])).code).toBe(0);
    const child = spawn('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" cli/pokemon.ts export --type trainer | head -c 100 > /dev/null`], {
      cwd: ROOT,
      env: { ...process.env, POKEMON_API_URL: API_URL, POKEMON_API_KEY: STACK.adminKey },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code] = (await once(child, 'close')) as [number | null];
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});

describe('npx pokemon', () => {
  it('runs the package bin', async () => {
    const child = spawn('npx', ['--no-install', 'pokemon', '--help'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const [code] = await new Promise<[number | null]>((resolve) => child.on('close', (c) => resolve([c])));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: pokemon /);
    expect(stdout).toContain('Exit codes:');
  });
});
