/** The part of fengari's C-like API (a Lua VM in JavaScript) that memory-scripting.ts uses; it ships no types. */
declare module 'fengari' {
  type LuaState = { readonly __luaState: unique symbol };
  type LuaString = Uint8Array;
  type JsFunction = (L: LuaState) => number;
  const lua: {
    LUA_OK: number;
    LUA_TNIL: number;
    LUA_TBOOLEAN: number;
    LUA_TNUMBER: number;
    LUA_TSTRING: number;
    LUA_TTABLE: number;
    lua_close(L: LuaState): void;
    lua_checkstack(L: LuaState, n: number): boolean;
    lua_createtable(L: LuaState, narray: number, nrec: number): void;
    lua_error(L: LuaState): never;
    lua_getfield(L: LuaState, index: number, key: string): number;
    lua_getglobal(L: LuaState, name: string): number;
    lua_gettop(L: LuaState): number;
    lua_isinteger(L: LuaState, index: number): boolean;
    lua_pcall(L: LuaState, nargs: number, nresults: number, handler: number): number;
    lua_pop(L: LuaState, n: number): void;
    lua_pushboolean(L: LuaState, value: boolean): void;
    lua_pushinteger(L: LuaState, value: number): void;
    lua_pushjsfunction(L: LuaState, fn: JsFunction): void;
    lua_pushnil(L: LuaState): void;
    lua_pushstring(L: LuaState, value: string | Uint8Array): LuaString;
    lua_rawgeti(L: LuaState, index: number, n: number): number;
    lua_rawseti(L: LuaState, index: number, n: number): void;
    lua_setfield(L: LuaState, index: number, key: string): void;
    lua_setglobal(L: LuaState, name: string): void;
    lua_settop(L: LuaState, index: number): void;
    lua_toboolean(L: LuaState, index: number): boolean;
    lua_tointeger(L: LuaState, index: number): number;
    lua_tonumber(L: LuaState, index: number): number;
    lua_tostring(L: LuaState, index: number): LuaString | null;
    lua_type(L: LuaState, index: number): number;
  };
  const lauxlib: {
    luaL_loadbuffer(L: LuaState, source: Uint8Array, size: number, name: string): number;
    luaL_newstate(): LuaState;
    luaL_requiref(L: LuaState, name: string, open: JsFunction, global: number): void;
  };
  const lualib: {
    luaopen_base: JsFunction;
    luaopen_math: JsFunction;
    luaopen_string: JsFunction;
    luaopen_table: JsFunction;
  };
  const fengari: { lua: typeof lua; lauxlib: typeof lauxlib; lualib: typeof lualib };
  export default fengari;
}
