/**
 * NEON_HTTP_DELAY_MS / UPSTASH_DELAY_MS: a stand-in started with a delay (here a separate pair
 * started by the global setup) answers no request before that delay has passed.
 */
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';

const { delayMs, neonUrl, upstashUrl } = inject('delayedStandins');

/** The wall time of one round trip, and its status (in workerd the clock advances across I/O). */
async function roundTrip(url: string, init: RequestInit): Promise<{ ms: number; status: number }> {
  const started = Date.now();
  const response = await fetch(url, init);
  await response.arrayBuffer();
  return { ms: Date.now() - started, status: response.status };
}

describe('stand-in delays', () => {
  it('the Neon stand-in waits before answering each request', async () => {
    for (let i = 0; i < 2; i++) {
      // No database behind it: an unknown endpoint's refusal is still a full round trip.
      const { ms, status } = await roundTrip(`${neonUrl}/sql`, { method: 'POST', body: '{"query":"SELECT 1"}' });
      expect(status).toBe(400);
      expect(ms).toBeGreaterThanOrEqual(delayMs);
    }
  });

  it('the Upstash stand-in waits before answering each request', async () => {
    for (let i = 0; i < 2; i++) {
      const { ms, status } = await roundTrip(`${upstashUrl}/`, { method: 'GET' });
      expect(status).toBe(200);
      expect(ms).toBeGreaterThanOrEqual(delayMs);
    }
  });
});
