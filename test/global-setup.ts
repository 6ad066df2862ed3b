/**
 * Runs in Node before the Workers-pool tests: starts the stand-ins (embedded engines by
 * default; the real servers when TEST_DATABASE_URL / TEST_REDIS_URL are set), gives the run
 * a fresh database, migrates it, and hands the Worker bindings to the tests.
 */
import type { TestProject } from 'vitest/node';
import { createServer, type Socket } from 'node:net';
import { migrate } from '../local/db-migrate.ts';
import { createScratchDatabase } from '../local/scratch-database.ts';
import { startStandins } from '../local/standins.ts';
import './provided-context.ts';

/** A server that accepts connections and never replies, to test timeouts. */
async function startBlackHole() {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export default async function setup(project: TestProject) {
  const serverUrl = process.env.TEST_DATABASE_URL;
  const scratch = serverUrl ? await createScratchDatabase(serverUrl, 'pokemon_test') : undefined;
  const standins = await startStandins({ postgresUrl: scratch?.url, redisUrl: process.env.TEST_REDIS_URL });
  await migrate({ databaseUrl: standins.bindings.DATABASE_URL, fetchEndpoint: standins.bindings.NEON_FETCH_ENDPOINT });
  console.log(`[test] stand-ins on ${standins.engines}${scratch ? ` (database ${new URL(scratch.url).pathname.slice(1)})` : ''}`);
  project.provide('bindings', standins.bindings);
  project.provide('engines', standins.engines);
  const blackHole = await startBlackHole();
  project.provide('blackHoleUrl', blackHole.url);
  return async () => {
    await blackHole.close();
    await standins.close();
    await scratch?.drop();
  };
}
