/**
 * EVAL for the in-memory engine: a script runs in a real Lua VM (fengari, Lua 5.3 written in
 * JavaScript) with Redis's scripting API — `KEYS`, `ARGV`, `redis.call`, `redis.pcall`,
 * `redis.error_reply`, `redis.status_reply`, `redis.sha1hex` — and Redis's conversions between
 * replies and Lua values. The engine runs one command at a time, so a script is atomic, as in Redis.
 *
 * Where it differs from Redis's Lua 5.1: `unpack` is there as in 5.1 (it is `table.unpack`);
 * the cjson, cmsgpack, struct and bit libraries and `redis.log` are not; an error keeps Redis's
 * first words (the code clients match on) without its "script: …, on @user_script:N." suffix.
 */
import { createHash } from 'node:crypto';
import fengari from 'fengari';
import { RedisErrorReply, type RedisReply } from './engine.ts';

const { lua, lauxlib, lualib } = fengari;
type LuaState = ReturnType<typeof lauxlib.luaL_newstate>;

/** Runs one command for a script (the engine's own dispatch); `status` marks a status reply such as `OK`. */
export type ScriptCall = (args: Buffer[]) => { reply: RedisReply; status: boolean };

/** Commands Redis refuses inside a script. */
const NOT_IN_SCRIPTS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'script', 'multi', 'exec', 'discard', 'watch', 'unwatch']);

export const sha1hex = (source: Buffer | Uint8Array): string => createHash('sha1').update(source).digest('hex');

/** Runs `source` with `keys` and `argv`; what it returns (or raises) becomes the reply. */
export function runScript(source: Buffer, keys: Buffer[], argv: Buffer[], call: ScriptCall): RedisReply {
  // A fresh VM per script: nothing a script leaves in globals reaches the next one.
  const L = lauxlib.luaL_newstate();
  try {
    for (const [name, open] of [
      ['_G', lualib.luaopen_base],
      ['table', lualib.luaopen_table],
      ['string', lualib.luaopen_string],
      ['math', lualib.luaopen_math],
    ] as const) {
      lauxlib.luaL_requiref(L, name, open, 1);
      lua.lua_pop(L, 1);
    }
    setUp(L, keys, argv, call);
    if (lauxlib.luaL_loadbuffer(L, source, source.length, '@user_script') !== lua.LUA_OK) {
      return new RedisErrorReply(`ERR Error compiling script (new function): ${text(L, -1)}`);
    }
    if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) return raised(L);
    return toReply(L, -1);
  } finally {
    lua.lua_close(L);
  }
}

function setUp(L: LuaState, keys: Buffer[], argv: Buffer[], call: ScriptCall): void {
  // Lua 5.1's `unpack`, as Redis's scripts know it; no file loading, as in Redis.
  lua.lua_getglobal(L, 'table');
  lua.lua_getfield(L, -1, 'unpack');
  lua.lua_setglobal(L, 'unpack');
  lua.lua_pop(L, 1);
  for (const name of ['dofile', 'loadfile', 'print']) {
    lua.lua_pushnil(L);
    lua.lua_setglobal(L, name);
  }
  for (const [name, items] of [['KEYS', keys], ['ARGV', argv]] as const) {
    lua.lua_createtable(L, items.length, 0);
    items.forEach((item, index) => {
      lua.lua_pushstring(L, item);
      lua.lua_rawseti(L, -2, index + 1);
    });
    lua.lua_setglobal(L, name);
  }
  lua.lua_createtable(L, 0, 5);
  const functions: Record<string, (L: LuaState) => number> = {
    call: redisCall(call, true),
    pcall: redisCall(call, false),
    error_reply: (L) => replyTable(L, 'err', text(L, 1)),
    status_reply: (L) => replyTable(L, 'ok', text(L, 1)),
    sha1hex: (L) => {
      lua.lua_pushstring(L, sha1hex(lua.lua_tostring(L, 1) ?? new Uint8Array()));
      return 1;
    },
  };
  for (const [name, fn] of Object.entries(functions)) {
    lua.lua_pushjsfunction(L, fn);
    lua.lua_setfield(L, -2, name);
  }
  lua.lua_setglobal(L, 'redis');
}

/** `redis.call` (an error reply raises) or `redis.pcall` (it is returned as `{err=…}`). */
function redisCall(call: ScriptCall, raise: boolean): (L: LuaState) => number {
  return (L) => {
    const count = lua.lua_gettop(L);
    const fail = (message: string): number => {
      replyTable(L, 'err', message);
      return raise ? lua.lua_error(L) : 1;
    };
    if (count === 0) return fail('ERR Please specify at least one argument for this redis lib call');
    const args: Buffer[] = [];
    for (let index = 1; index <= count; index++) {
      const type = lua.lua_type(L, index);
      if (type === lua.LUA_TNUMBER) args.push(Buffer.from(numberText(L, index)));
      else if (type === lua.LUA_TSTRING) args.push(Buffer.from(lua.lua_tostring(L, index)!));
      else return fail('ERR Lua redis lib command arguments must be strings or integers');
    }
    if (NOT_IN_SCRIPTS.has(args[0]!.toString('latin1').toLowerCase())) return fail('ERR This Redis command is not allowed from script');
    const { reply, status } = call(args);
    if (reply instanceof RedisErrorReply) return fail(reply.message);
    lua.lua_settop(L, 0);
    pushReply(L, reply, status);
    return 1;
  };
}

/** A number as Redis passes it to a command: integers without a fraction, others in their shortest form. */
function numberText(L: LuaState, index: number): string {
  return lua.lua_isinteger(L, index) ? String(lua.lua_tointeger(L, index)) : String(lua.lua_tonumber(L, index));
}

/** Redis → Lua: integers are numbers, bulk strings strings, nil false, arrays tables, a status `{ok=…}`. */
function pushReply(L: LuaState, reply: RedisReply, status = false): void {
  if (!lua.lua_checkstack(L, 2)) throw new Error('Lua stack exhausted by a nested reply');
  if (reply === null) lua.lua_pushboolean(L, false);
  else if (typeof reply === 'number') lua.lua_pushinteger(L, reply);
  else if (reply instanceof RedisErrorReply) replyTable(L, 'err', reply.message);
  else if (Array.isArray(reply)) {
    lua.lua_createtable(L, reply.length, 0);
    reply.forEach((item, index) => {
      pushReply(L, item);
      lua.lua_rawseti(L, -2, index + 1);
    });
  } else if (status) replyTable(L, 'ok', reply.toString('latin1'));
  else lua.lua_pushstring(L, reply);
}

/** Pushes `{[field] = message}`, the table Redis uses for status and error replies. */
function replyTable(L: LuaState, field: 'ok' | 'err', message: string): number {
  lua.lua_createtable(L, 0, 1);
  lua.lua_pushstring(L, message);
  lua.lua_setfield(L, -2, field);
  return 1;
}

/** Lua → Redis: numbers become integers (truncated), false nil, true 1, a table an array up to its first nil. */
function toReply(L: LuaState, index: number): RedisReply {
  const at = index < 0 ? lua.lua_gettop(L) + index + 1 : index;
  switch (lua.lua_type(L, at)) {
    case lua.LUA_TNUMBER:
      return Math.trunc(lua.lua_tonumber(L, at));
    case lua.LUA_TSTRING:
      return Buffer.from(lua.lua_tostring(L, at)!);
    case lua.LUA_TBOOLEAN:
      return lua.lua_toboolean(L, at) ? 1 : null;
    case lua.LUA_TTABLE: {
      const error = field(L, at, 'err');
      if (error) return new RedisErrorReply(error.toString('utf8'));
      const ok = field(L, at, 'ok');
      if (ok) return ok;
      const items: RedisReply[] = [];
      for (let n = 1; ; n++) {
        if (!lua.lua_checkstack(L, 1)) throw new Error('Lua stack exhausted by a nested table');
        const end = lua.lua_rawgeti(L, at, n) === lua.LUA_TNIL;
        if (!end) items.push(toReply(L, -1));
        lua.lua_pop(L, 1);
        if (end) return items;
      }
    }
    default:
      return null;
  }
}

/** A string field of the table at `at`, or undefined. */
function field(L: LuaState, at: number, name: string): Buffer | undefined {
  const type = lua.lua_getfield(L, at, name);
  const value = type === lua.LUA_TSTRING ? Buffer.from(lua.lua_tostring(L, -1)!) : undefined;
  lua.lua_pop(L, 1);
  return value;
}

/** The error a script raised: a `{err=…}` table as it is, anything else as an ERR. */
function raised(L: LuaState): RedisErrorReply {
  if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
    const error = field(L, -1, 'err');
    if (error) return new RedisErrorReply(error.toString('utf8'));
  }
  return new RedisErrorReply(`ERR ${text(L, -1)}`);
}

function text(L: LuaState, index: number): string {
  const value = lua.lua_tostring(L, index);
  return value ? Buffer.from(value).toString('utf8') : '';
}
