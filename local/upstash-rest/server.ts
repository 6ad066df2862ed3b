/**
 * A local stand-in for Upstash's Redis REST API (`POST /`, `/pipeline`, `/multi-exec`), so the
 * unmodified @upstash/redis client can talk to a real Redis or to the in-memory engine.
 * Wire format: Upstash's REST API as its client sends it and its docs describe it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, listen, readBody, sendJson, type RunningServer } from '../http.ts';
import { RedisErrorReply, refuseAdminCommand, type RedisEngine, type RedisReply } from './engine.ts';

/** Same request size limit as uprest. */
const BODY_LIMIT = 10 * 1024 * 1024;
const OK = Buffer.from('OK');
const WELCOME = 'Welcome to the local Upstash Redis REST stand-in. POST commands to /, /pipeline or /multi-exec.';

export interface UpstashRestOptions {
  engine: RedisEngine;
  /** Clients must send `Authorization: Bearer <token>` (or `?_token=<token>`). */
  token: string;
  /** 0 or omitted: a free port. */
  port?: number;
  host?: string;
}

type JsonReply = null | number | string | JsonReply[];
type Item = { result: JsonReply } | { error: string };

/** A malformed request: answered with 400 and this message. */
class BadRequest extends Error {}

/**
 * Starts the REST stand-in on `host:port` in front of `options.engine`. The engine stays open
 * when the server closes; the caller owns it.
 */
export async function startUpstashRest(options: UpstashRestOptions): Promise<RunningServer> {
  const { engine, token, port = 0, host = '127.0.0.1' } = options;
  if (!token) throw new Error('startUpstashRest needs a non-empty token');
  return listen((req, res) => handle(req, res, engine, token), port, host);
}

async function handle(req: IncomingMessage, res: ServerResponse, engine: RedisEngine, token: string): Promise<void> {
  // Any opaque value will do: the client just echoes it back on its next request.
  const headers = { 'upstash-sync-token': randomUUID() };
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname.replace(/(.)\/+$/, '$1');
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') {
    if (path === '/') sendJson(res, 200, WELCOME, headers);
    else sendJson(res, 404, { error: `Not found: ${path} (path-style commands are not supported)` }, headers);
    return;
  }
  if (method !== 'POST' && method !== 'PUT') {
    sendJson(res, 405, { error: `Method ${method} not allowed` }, { ...headers, Allow: 'GET, HEAD, POST, PUT' });
    return;
  }
  if (!isAuthorized(req, url, token)) {
    sendJson(res, 401, { error: 'Unauthorized' }, headers);
    return;
  }
  try {
    const base64 = String(req.headers['upstash-encoding']).toLowerCase() === 'base64';
    const [status, body] = await route(path, req, engine, base64);
    sendJson(res, status, body, headers);
  } catch (error) {
    sendJson(res, statusFor(error), { error: error instanceof Error ? error.message : String(error) }, headers);
  }
}

function isAuthorized(req: IncomingMessage, url: URL, token: string): boolean {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  return bearer === token || url.searchParams.get('_token') === token;
}

/** 413 for oversized bodies, 400 for malformed requests, 500 for engine failures (e.g. Redis unreachable). */
function statusFor(error: unknown): number {
  if (error instanceof BodyTooLargeError) return 413;
  if (error instanceof BadRequest) return 400;
  return 500;
}

async function route(path: string, req: IncomingMessage, engine: RedisEngine, base64: boolean): Promise<[number, unknown]> {
  switch (path) {
    case '/': {
      const args = toCommand(await readJson(req), 'command');
      const reply = refuseAdminCommand(args) ?? (await engine.command(args));
      return reply instanceof RedisErrorReply ? [400, { error: reply.message }] : [200, { result: encode(reply, base64, true) }];
    }
    case '/pipeline': {
      const commands = toCommands(await readJson(req), 'pipeline');
      // Issued together: a socket-backed engine pipelines them and still answers in order.
      const replies = await Promise.all(commands.map((args) => refuseAdminCommand(args) ?? engine.command(args)));
      return [200, replies.map((reply) => toItem(reply, base64))];
    }
    case '/multi-exec': {
      const commands = toCommands(await readJson(req), 'transaction');
      const refused = commands.map(refuseAdminCommand).find((reply) => reply !== undefined);
      const replies = refused ?? (await engine.transaction(commands));
      // A discarded transaction must not be a 2xx, or the client would map over a non-array.
      if (replies instanceof RedisErrorReply) return [400, { error: replies.message }];
      return [200, replies.map((reply) => toItem(reply, base64))];
    }
    default:
      return [404, { error: `Not found: ${path} (use /, /pipeline or /multi-exec)` }];
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = (await readBody(req, BODY_LIMIT)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadRequest(`Invalid JSON body: ${(error as Error).message}`);
  }
}

/** Validates a pipeline or transaction body: a non-empty array of commands. */
function toCommands(body: unknown, what: string): Buffer[][] {
  if (!Array.isArray(body) || body.length === 0) {
    throw new BadRequest(`Invalid ${what}: expected a non-empty JSON array of commands, like [["SET","k","v"],["GET","k"]]`);
  }
  return body.map((command, index) => toCommand(command, `command ${index} of the ${what}`));
}

/** Validates one command (a non-empty array) and converts its arguments to bytes. */
function toCommand(body: unknown, what: string): Buffer[] {
  if (!Array.isArray(body) || body.length === 0) {
    throw new BadRequest(`Invalid ${what}: expected a non-empty JSON array, like ["SET","key","value"]`);
  }
  return body.map((arg: unknown, index) => toArgument(arg, `argument ${index} of ${what}`));
}

/** Argument bytes as in protocols.md B4: strings as UTF-8, numbers and booleans as their JS text. */
function toArgument(arg: unknown, what: string): Buffer {
  switch (typeof arg) {
    case 'string':
      return Buffer.from(arg, 'utf8');
    case 'number':
    case 'boolean':
      return Buffer.from(String(arg));
  }
  // The client sends `undefined` as null; failing loudly beats storing a surprise "".
  if (arg === null) throw new BadRequest(`Invalid ${what}: null is not a valid argument`);
  throw new BadRequest(`Invalid ${what}: expected a string, number or boolean, got ${Array.isArray(arg) ? 'an array' : 'an object'}`);
}

function toItem(reply: RedisReply, base64: boolean): Item {
  return reply instanceof RedisErrorReply ? { error: reply.message } : { result: encode(reply, base64, true) };
}

/**
 * Encodes a reply as JSON (protocols.md B6). With base64, every string at any depth is base64
 * except a top-level "OK", which the client keeps as is; without it, strings are UTF-8 text.
 */
function encode(reply: RedisReply, base64: boolean, topLevel: boolean): JsonReply {
  if (reply === null || typeof reply === 'number') return reply;
  if (Array.isArray(reply)) return reply.map((item) => encode(item, base64, false));
  // An error nested in an array (e.g. from a script) can only travel as a string.
  const bytes = reply instanceof RedisErrorReply ? Buffer.from(reply.message) : reply;
  if (!base64) return bytes.toString('utf8');
  return topLevel && bytes.equals(OK) ? 'OK' : bytes.toString('base64');
}
