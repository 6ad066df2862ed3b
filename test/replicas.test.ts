/**
 * Read replicas (runs only with TEST_REPLICA_CLUSTER=1: a private PostgreSQL primary and a
 * streaming replica that applies WAL `replicaDelayMs` late, served by the Neon stand-in).
 * A placeholder for the read-replica suite: it pins down what the replica binding reaches.
 */
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';

const { DATABASE_URL, DATABASE_REPLICA_URL, NEON_FETCH_ENDPOINT } = inject('bindings');
const delayMs = inject('replicaDelayMs');
const primary = neon(DATABASE_URL);
const replica = neon(DATABASE_REPLICA_URL?.split(',')[0] ?? 'postgresql://missing:replica@localhost/none');

beforeAll(() => {
  neonConfig.fetchEndpoint = NEON_FETCH_ENDPOINT;
});

describe('the replica behind DATABASE_REPLICA_URL', () => {
  it('is a read-only standby: writes fail with 25006', async () => {
    expect(DATABASE_REPLICA_URL).toBeTruthy();
    expect(await replica`SELECT pg_is_in_recovery() AS standby`).toEqual([{ standby: true }]);
    const error = await replica`INSERT INTO trainers (id, first_name, last_name, date_of_birth) VALUES ('nope', 'No', 'Pe', '2000-01-01')`.catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NeonDbError);
    expect(error).toMatchObject({ code: '25006' });
  });

  it(`shows a row committed on the primary only once its apply delay has passed`, { timeout: delayMs + 30_000 }, async () => {
    expect(delayMs).toBeGreaterThan(0);
    const id = `replica_${crypto.randomUUID().slice(0, 8)}`;
    const before = Date.now();
    await primary`INSERT INTO trainers (id, first_name, last_name, date_of_birth) VALUES (${id}, 'Lag', 'Test', '2000-01-01')`;
    try {
      const visible = async () => (await replica`SELECT 1 FROM trainers WHERE id = ${id}`).length === 1;
      expect(await visible()).toBe(false);
      let seenAt: number | undefined;
      while (seenAt === undefined && Date.now() - before < delayMs + 20_000) {
        if (await visible()) seenAt = Date.now();
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(seenAt, 'the row never reached the replica').toBeDefined();
      expect(seenAt! - before).toBeGreaterThanOrEqual(delayMs);
    } finally {
      await primary`DELETE FROM trainers WHERE id = ${id}`;
    }
  });
});
