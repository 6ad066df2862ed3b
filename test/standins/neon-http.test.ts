/**
 * Conformance of the Neon SQL-over-HTTP stand-in, driven by the real
 * @neondatabase/serverless client inside workerd (as the Worker uses it).
 * Expected values are what direct `pg` returns for the same queries.
 */
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import { connect } from 'cloudflare:sockets';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';

const { DATABASE_URL, DATABASE_REPLICA_URL, NEON_FETCH_ENDPOINT } = inject('bindings');
const sql = neon(DATABASE_URL);
const unique = () => `t_${crypto.randomUUID().replaceAll('-', '')}`;

/** Posts a raw body to the stand-in, for what the client never sends. */
function post(body: string, headers: Record<string, string> = { 'Neon-Connection-String': DATABASE_URL }) {
  return fetch(NEON_FETCH_ENDPOINT, { method: 'POST', body, headers });
}

beforeAll(() => {
  neonConfig.fetchEndpoint = NEON_FETCH_ENDPOINT;
});

describe('Neon stand-in: values', () => {
  it('round-trips every common type as pg parses it', async () => {
    const [row] = await sql`
      SELECT 42::int4 AS int4, 9007199254740993::int8 AS int8, 12345.678901234567890::numeric AS numeric,
             true AS bool, '2024-02-29'::date AS date, '2024-01-02T03:04:05.678Z'::timestamptz AS ts,
             '{"a":[1,"é",null],"emoji":"🐉"}'::jsonb AS jsonb, ARRAY['a','b,c','d"e',NULL]::text[] AS arr,
             '\\x00ff41'::bytea AS bytea, NULL::text AS nothing`;
    expect(row).toEqual({
      int4: 42,
      int8: '9007199254740993',
      numeric: '12345.678901234567890',
      bool: true,
      date: new Date('2024-02-29T00:00:00.000Z'),
      ts: new Date('2024-01-02T03:04:05.678Z'),
      jsonb: { a: [1, 'é', null], emoji: '🐉' },
      arr: ['a', 'b,c', 'd"e', null],
      bytea: expect.objectContaining({ length: 3 }),
      nothing: null,
    });
    expect([...(row!.bytea as Uint8Array)]).toEqual([0, 255, 65]);
  });

  it('binds parameters of every kind', async () => {
    const [row] = await sql`SELECT ${1.5}::float8 AS f, ${'🐉 \'; DROP TABLE x; --'}::text AS s, ${[1, 2, 3]}::int[] AS a,
                                   ${null}::int AS n, ${{ k: 'v' }}::jsonb AS j, ${true}::bool AS b`;
    expect(row).toEqual({ f: 1.5, s: "🐉 '; DROP TABLE x; --", a: [1, 2, 3], n: null, j: { k: 'v' }, b: true });
  });

  it('returns the full pg result shape: all seven field keys, command and rowCount', async () => {
    const table = unique();
    await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text)`);
    const created = await sql.query(`CREATE INDEX ON ${table} (name)`, [], { fullResults: true });
    expect(created).toMatchObject({ command: 'CREATE', rowCount: null });
    const inserted = await sql.query(`INSERT INTO ${table} VALUES (1, 'a'), (2, 'b')`, [], { fullResults: true });
    expect(inserted).toMatchObject({ command: 'INSERT', rowCount: 2 });
    const selected = await sql.query(`SELECT id, name FROM ${table} ORDER BY id`, [], { fullResults: true });
    expect(selected.rowCount).toBe(2);
    expect(selected.fields[0]).toEqual({
      name: 'id',
      dataTypeID: 23,
      tableID: expect.any(Number),
      columnID: 1,
      dataTypeSize: 4,
      dataTypeModifier: -1,
      format: 'text',
    });
    expect(selected.fields[0]!.tableID).toBeGreaterThan(0);
    await sql.query(`DROP TABLE ${table}`);
  });
});

describe('Neon stand-in: transactions', () => {
  it('commits a batch and returns one result per statement', async () => {
    const table = unique();
    await sql.query(`CREATE TABLE ${table} (v text UNIQUE)`);
    const [, rows] = await sql.transaction([sql.query(`INSERT INTO ${table} VALUES ('a'), ('b')`), sql.query(`SELECT v FROM ${table} ORDER BY v`)]);
    expect(rows).toEqual([{ v: 'a' }, { v: 'b' }]);
    await sql.query(`DROP TABLE ${table}`);
  });

  it('rolls back the whole batch when one statement fails, with the error fields of pg', async () => {
    const table = unique();
    await sql.query(`CREATE TABLE ${table} (v text CONSTRAINT ${table}_v_key UNIQUE)`);
    const error = await sql
      .transaction([sql.query(`INSERT INTO ${table} VALUES ('x')`), sql.query(`INSERT INTO ${table} VALUES ('x')`)])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NeonDbError);
    expect(error).toMatchObject({
      code: '23505',
      constraint: `${table}_v_key`,
      table,
      schema: 'public',
      detail: 'Key (v)=(x) already exists.',
      severity: 'ERROR',
    });
    expect(await sql.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 0 }]);
    await sql.query(`DROP TABLE ${table}`);
  });

  it('applies the isolation level and read-only headers', async () => {
    const [rows] = await sql.transaction([sql`SHOW transaction_isolation`], { isolationLevel: 'Serializable' });
    expect(rows).toEqual([{ transaction_isolation: 'serializable' }]);
    const error = await sql.transaction([sql`CREATE TEMP TABLE nope (x int)`], { readOnly: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '25006' });
  });

  it('rejects several statements in one query, as Neon does', async () => {
    await expect(sql.query('SELECT 1; SELECT 2')).rejects.toThrow(/cannot insert multiple commands into a prepared statement/);
  });

  it('leaks no session state between requests', async () => {
    await sql`SET application_name = 'leaky'`;
    await sql`CREATE TEMP TABLE leak_check (x int)`;
    for (let i = 0; i < 5; i++) {
      const [row] = await sql`SELECT current_setting('application_name') AS name, to_regclass('pg_temp.leak_check') AS temp`;
      expect(row).toEqual({ name: expect.not.stringMatching(/^leaky$/), temp: null });
    }
  });
});

describe('Neon stand-in: protocol errors', () => {
  it('answers a missing connection string with 400 and the full error body', async () => {
    const response = await post(JSON.stringify({ query: 'SELECT 1', params: [] }), {});
    expect(response.status).toBe(400);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ message: 'invalid header: neon-connection-string', code: '', severity: '', constraint: null });
    expect(Object.keys(body)).toHaveLength(17);
  });

  it('answers malformed JSON and wrong shapes with 400', async () => {
    for (const body of ['{not json', '[]', '{"query": 5}', '{"queries": {}}']) {
      const response = await post(body);
      expect(response.status, body).toBe(400);
      expect(((await response.json()) as { message: string }).message).toMatch(/^could not parse the HTTP request body/);
    }
  });

  it('rejects an unknown isolation level', async () => {
    const response = await post(JSON.stringify({ queries: [] }), {
      'Neon-Connection-String': DATABASE_URL,
      'Neon-Batch-Isolation-Level': 'Chaos',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ message: 'invalid isolation level' });
  });

  it('refuses a request body over 10 MiB with 413', async () => {
    const response = await post(JSON.stringify({ query: 'SELECT $1', params: ['x'.repeat(10 * 1024 * 1024)] }));
    expect(response.status).toBe(413);
  });

  it('refuses a response over 10 MiB with 507, which the client reports as a server error', async () => {
    await expect(sql`SELECT repeat('x', 1024 * 1024) FROM generate_series(1, 11)`).rejects.toThrow(/HTTP status 507/);
  });

  it('answers any other path with 400 "query is not supported"', async () => {
    const response = await fetch(NEON_FETCH_ENDPOINT.replace(/\/sql$/, '/other'), { method: 'POST', body: '{}' });
    expect(response.status).toBe(400);
    expect(await response.json()).toBe('query is not supported');
  });
});

/** DATABASE_URL with one part changed. */
function withUrl(change: (url: URL) => void): string {
  const url = new URL(DATABASE_URL);
  change(url);
  return url.toString();
}

describe('Neon stand-in: databases and credentials', () => {
  it('refuses a wrong password as Neon does: 400, "password authentication failed for user \'…\'"', async () => {
    const error = await neon(withUrl((url) => (url.password = 'wrong')))`SELECT 1`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NeonDbError);
    // Neon's proxy (not Postgres) refuses it, so there is no SQLSTATE: code and severity are empty.
    expect(error).toMatchObject({ message: "password authentication failed for user 'local'", code: '', severity: '' });
  });

  it('refuses an unknown user with the same message, naming that user', async () => {
    const error = await neon(withUrl((url) => (url.username = 'nobody')))`SELECT 1`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NeonDbError);
    expect((error as Error).message).toBe("password authentication failed for user 'nobody'");
  });

  it('answers an unknown host (Neon: an unknown endpoint) like a wrong password', async () => {
    const error = await neon(withUrl((url) => (url.hostname = 'ep-nowhere.localhost')))`SELECT 1`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NeonDbError);
    expect((error as Error).message).toBe("password authentication failed for user 'local'");
  });

  it('answers an unknown database on a known host with Postgres\'s 3D000, relayed as a server error', async () => {
    const response = await post(JSON.stringify({ query: 'SELECT 1', params: [] }), {
      'Neon-Connection-String': withUrl((url) => (url.pathname = '/nope')),
    });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ message: 'database "nope" does not exist', code: '3D000', severity: 'FATAL' });
    await expect(neon(withUrl((url) => (url.pathname = '/nope')))`SELECT 1`).rejects.toThrow(/^Server error \(HTTP status 500\): .*3D000/);
  });

  it('refuses a request addressed to a foreign Host (DNS rebinding) with a short JSON 403', async () => {
    // fetch() always derives Host from the URL, so speak HTTP over a raw socket, as a browser
    // tricked by a rebound name would: right address, foreign Host.
    const send = async (host: string) => {
      const { hostname, port } = new URL(NEON_FETCH_ENDPOINT);
      const socket = connect({ hostname, port: Number(port) });
      const body = JSON.stringify({ query: 'SELECT 1', params: [] });
      const writer = socket.writable.getWriter();
      await writer.write(
        new TextEncoder().encode(
          `POST /sql HTTP/1.1\r\nHost: ${host}\r\nNeon-Connection-String: ${DATABASE_URL}\r\n` +
            `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        ),
      );
      const text = await new Response(socket.readable).text();
      await socket.close().catch(() => {});
      return { status: Number(text.split(' ')[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) };
    };
    for (const host of ['attacker.example', 'attacker.example:80', '127.0.0.1.nip.io', 'localhost.attacker.example']) {
      const refused = await send(host);
      expect(refused.status, host).toBe(403);
      expect((JSON.parse(refused.body) as { message: string }).message).toMatch(/^forbidden host/);
    }
    for (const host of [new URL(NEON_FETCH_ENDPOINT).host, 'localhost:1', '[::1]:1', '127.0.0.1']) {
      expect((await send(host)).status, host).toBe(200);
    }
  });

  it('grants no CORS access: neither on answers nor on a preflight', async () => {
    const answer = await post(JSON.stringify({ query: 'SELECT 1', params: [] }), {
      'Neon-Connection-String': DATABASE_URL,
      Origin: 'https://attacker.example',
    });
    expect(answer.status).toBe(200);
    expect([...answer.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
    await answer.arrayBuffer();
    const preflight = await fetch(NEON_FETCH_ENDPOINT, {
      method: 'OPTIONS',
      headers: { Origin: 'https://attacker.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'neon-connection-string' },
    });
    expect(preflight.ok).toBe(false);
    expect([...preflight.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
    await preflight.arrayBuffer();
  });

  it('serves each replica in DATABASE_REPLICA_URL read-only: reads work, writes fail with 25006', async () => {
    expect(DATABASE_REPLICA_URL).toBeDefined();
    for (const replicaUrl of DATABASE_REPLICA_URL!.split(',')) {
      const replica = neon(replicaUrl);
      expect(await replica`SELECT count(*)::int > 1000 AS loaded FROM species`).toEqual([{ loaded: true }]);
      const single = await replica.query('CREATE TABLE replica_write_check (x int)').catch((e: unknown) => e);
      expect(single).toBeInstanceOf(NeonDbError);
      expect(single).toMatchObject({ code: '25006' });
      const batch = await replica.transaction([replica`SELECT 1`, replica`UPDATE trainers SET first_name = first_name`]).catch((e: unknown) => e);
      expect(batch).toMatchObject({ code: '25006' });
      // Asking for a read-write batch changes nothing: a replica cannot write.
      const readWrite = await replica.transaction([replica`UPDATE trainers SET first_name = first_name`], { readOnly: false }).catch((e: unknown) => e);
      expect(readWrite).toMatchObject({ code: '25006' });
    }
  });
});
