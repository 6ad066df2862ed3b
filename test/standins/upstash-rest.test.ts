/**
 * Conformance of the Upstash REST stand-in, driven by the real @upstash/redis client
 * inside workerd with its defaults (base64 responses, auto-pipelining).
 */
import { Redis } from '@upstash/redis/cloudflare';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';

const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = inject('bindings');
const redis = new Redis({ url, token, enableTelemetry: false });
const created: string[] = [];
/** A fresh key, deleted after the file: the real Redis is shared with the machine's other users. */
const key = (name: string) => {
  const k = `conformance:${crypto.randomUUID()}:${name}`;
  created.push(k);
  return k;
};

/**
 * Runs `work` and returns the path of every HTTP request it sent to `base` (the client calls
 * the global `fetch` for each round trip), e.g. `['/pipeline']`.
 */
async function requestsTo(base: string, work: () => Promise<void>): Promise<string[]> {
  const paths: string[] = [];
  const original = globalThis.fetch;
  const prefix = base.replace(/\/$/, '');
  globalThis.fetch = (input, init) => {
    const href = input instanceof Request ? input.url : String(input);
    if (href.startsWith(prefix)) paths.push(href.slice(prefix.length) || '/');
    return original(input, init);
  };
  try {
    await work();
  } finally {
    globalThis.fetch = original;
  }
  return paths;
}

afterAll(async () => {
  if (created.length > 0) await redis.del(...created);
});

describe('Upstash stand-in: values', () => {
  it('round-trips JSON with emoji, "OK", "abcd" and numeric strings exactly', async () => {
    const cases: [string, unknown][] = [
      [key('json'), { name: 'Pikachu ⚡', nested: [1, 'two', null] }],
      [key('ok'), 'OK'],
      [key('abcd'), 'abcd'],
      [key('emoji'), '🐉🔥'],
      [key('number'), 12345],
    ];
    for (const [k, value] of cases) await redis.set(k, value);
    for (const [k, value] of cases) expect(await redis.get(k)).toEqual(value);
  });

  it('returns RESP2 shapes: hgetall, integers, nil', async () => {
    const h = key('hash');
    expect(await redis.hset(h, { a: '1', b: 'x' })).toBe(2);
    expect(await redis.hgetall(h)).toEqual({ a: 1, b: 'x' });
    expect(await redis.incr(key('counter'))).toBe(1);
    expect(await redis.get(key('missing'))).toBeNull();
    expect(await redis.ping()).toBe('PONG');
  });

  it('sets a TTL that PTTL and TTL report, and none without one', async () => {
    const k = key('ttl');
    await redis.set(k, 'later gone', { px: 60_000 });
    const pttl = await redis.pttl(k);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(await redis.ttl(k)).toBeGreaterThan(50);
    const forever = key('no-ttl');
    await redis.set(forever, 'stays');
    expect(await redis.pttl(forever)).toBe(-1);
    expect(await redis.pttl(key('missing'))).toBe(-2);
  });

  it('expires a key after its TTL', async () => {
    const k = key('expiring');
    await redis.set(k, 'soon gone', { px: 50 });
    expect(await redis.pttl(k)).toBeGreaterThan(0);
    // Poll the key rather than sleep a fixed time: gone as soon as its 50 ms are up, within a bounded wait.
    const deadline = Date.now() + 5_000;
    while ((await redis.get(k)) !== null) {
      expect(Date.now(), 'the key outlived its 50 ms TTL by 5 s').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await redis.ttl(k)).toBe(-2);
    expect(await redis.exists(k)).toBe(0);
  });
});

describe('Upstash stand-in: pipelines and transactions', () => {
  it('reports a failing pipeline item in place and runs the rest', async () => {
    const s = key('string');
    const results = await redis.pipeline().set(s, 'text').incr(s).get(s).exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: 'OK', error: undefined });
    expect(results[1]!.error).toMatch(/not an integer/);
    expect(results[2]).toEqual({ result: 'text', error: undefined });
  });

  it('runs multi-exec atomically and in order', async () => {
    const k = key('multi');
    expect(await redis.multi().set(k, 1).incrby(k, 41).get(k).exec()).toEqual(['OK', 42, 42]);
  });

  it('batches same-tick commands through auto-pipelining: 20 commands, one HTTP request', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => key(`auto${i}`));
    const requests = await requestsTo(url, async () => {
      await Promise.all(keys.map((k, i) => redis.set(k, i)));
    });
    expect(requests).toEqual(['/pipeline']);
    let values: unknown[] = [];
    const reads = await requestsTo(url, async () => {
      values = await Promise.all(keys.map((k) => redis.get(k)));
    });
    expect(reads).toEqual(['/pipeline']);
    expect(values).toEqual(keys.map((_, i) => i));
    // Without batching, each command is its own request: the counter does see them.
    const unbatched = await requestsTo(url, async () => {
      for (const k of keys.slice(0, 3)) await redis.get(k);
    });
    expect(unbatched).toHaveLength(3);
  });
});

describe('Upstash stand-in: scripts', () => {
  // The same assertions hold on the in-memory engine (a Lua VM of its own) and on real Redis.
  it('runs EVAL with KEYS and ARGV, converting replies both ways as Redis does', async () => {
    const [text, list] = [key('eval-string'), key('eval-list')];
    const script = `
      redis.call('SET', KEYS[1], ARGV[1])
      redis.call('RPUSH', KEYS[2], unpack(ARGV, 2))
      return {redis.call('GET', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1), redis.call('INCRBY', KEYS[1] .. ':n', 3),
        type(redis.call('GET', KEYS[1] .. ':none')), redis.call('SET', KEYS[1], 'v'), redis.call('TYPE', KEYS[2]), 7.9, false, true}`;
    created.push(`${text}:n`);
    expect(await redis.eval(script, [text, list], ['héllo', 'a', 'b'])).toEqual(['héllo', ['a', 'b'], 3, 'boolean', 'OK', 'list', 7, null, 1]);
  });

  it('is atomic: a script that raises keeps the writes before it, and its error is the reply', async () => {
    const k = key('eval-raise');
    await expect(redis.eval("redis.call('SET', KEYS[1], 'x'); return redis.call('INCR', KEYS[1])", [k], [])).rejects.toThrow(/failed: ERR value is not an integer/);
    expect(await redis.get(k)).toBe('x');
    expect(await redis.eval("return redis.pcall('INCR', KEYS[1])['err']", [k], [])).toMatch(/^ERR value is not an integer/);
    await expect(redis.eval('return nil +', [], [])).rejects.toThrow(/failed: ERR Error compiling script/);
    await expect(redis.eval("return redis.call('EVAL', 'return 1', 0)", [], [])).rejects.toThrow(/failed: ERR This Redis command is not allowed from script/);
    await expect(redis.eval('return 1', [k, k], [])).resolves.toBe(1);
  });

  it('caches a script for EVALSHA (NOSCRIPT before), as @upstash/redis Script expects', async () => {
    const source = `return {ARGV[1], '${crypto.randomUUID()}'}`;
    const sha = [...new Uint8Array(await crypto.subtle.digest('SHA-1', new TextEncoder().encode(source)))].map((b) => b.toString(16).padStart(2, '0')).join('');
    expect(await redis.scriptExists(sha)).toEqual([0]);
    await expect(redis.evalsha(sha, [], ['a'])).rejects.toThrow(/failed: NOSCRIPT /);
    expect(await redis.scriptLoad(source)).toBe(sha);
    expect(await redis.evalsha(sha, [], ['a'])).toEqual(['a', expect.any(String)]);
    expect(await redis.scriptExists(sha)).toEqual([1]);
  });
});

describe('Upstash stand-in: errors', () => {
  it('rejects a wrong token with 401 and a JSON body', async () => {
    const response = await fetch(url, { method: 'POST', body: '["PING"]', headers: { Authorization: 'Bearer wrong' } });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'Unauthorized' });
    await expect(new Redis({ url, token: 'wrong', enableTelemetry: false }).get('x')).rejects.toThrow(/Unauthorized/);
  });

  it('answers a Redis error on / with 400 and the error text', async () => {
    const response = await fetch(url, { method: 'POST', body: '["GET"]', headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "ERR wrong number of arguments for 'get' command" });
  });

  it('refuses administrative commands on every path, as Upstash does, and leaves the rest alone', async () => {
    const send = (path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { Authorization: `Bearer ${token}` } });
    for (const command of [['CONFIG', 'GET', 'dir'], ['DEBUG', 'SLEEP', '0'], ['SHUTDOWN'], ['MODULE', 'LIST'], ['SAVE'], ['BGSAVE'], ['REPLICAOF', 'NO', 'ONE'], ['ACL', 'LIST'], ['CLIENT', 'KILL', 'ID', '1'], ['MONITOR'], ['SCRIPT', 'KILL']]) {
      const single = await send('/', command);
      expect(single.status, command.join(' ')).toBe(400);
      expect(((await single.json()) as { error: string }).error).toMatch(/^NOPERM this user has no permissions to run the '[a-z|]+' command$/);
      const [item] = (await (await send('/pipeline', [command])).json()) as { error?: string }[];
      expect(item?.error, command.join(' ')).toMatch(/^NOPERM /);
      expect((await send('/multi-exec', [['PING'], command])).status).toBe(400);
    }
    expect(await redis.ping()).toBe('PONG');
  });

  it('filters SCAN by TYPE', async () => {
    const [text, list] = [key('scan-string'), key('scan-list')];
    await redis.set(text, 'v');
    await redis.rpush(list, 'a');
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, { match: 'conformance:*', type: 'list', count: 1000 });
      found.push(...keys);
      cursor = String(next);
    } while (cursor !== '0');
    expect(found).toContain(list);
    expect(found).not.toContain(text);
  });

  it('answers malformed bodies with 400, never a crash', async () => {
    for (const body of ['{nope', '{}', '[]', '[{"a":1}]']) {
      const response = await fetch(url, { method: 'POST', body, headers: { Authorization: `Bearer ${token}` } });
      expect(response.status, body).toBe(400);
      expect(await response.json()).toHaveProperty('error');
    }
    expect(await redis.ping()).toBe('PONG');
  });
});
