export { startNeonHttp, NEON_SIZE_LIMIT, type NeonHttpOptions } from './server.ts';
export { connectPostgres } from './postgres-engine.ts';
export { openPglite } from './pglite-engine.ts';
export { readOnly, type SqlEngine } from './engine.ts';
