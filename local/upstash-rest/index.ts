/** The local Upstash Redis REST stand-in: the HTTP server and the engines it can run on. */
export { startUpstashRest, type UpstashRestOptions } from './server.ts';
export { connectRedis } from './resp-engine.ts';
export { createMemoryEngine } from './memory-engine.ts';
export { RedisErrorReply, type RedisEngine, type RedisReply } from './engine.ts';
