/**
 * Every Lua script runs behind this preamble: it calls Redis only through `call`, which refuses a
 * key the script did not declare in KEYS. Redis Cluster routes a script by its declared keys, and
 * a script that reached a key of another node (or a key the caller did not foresee) would work on
 * a single Redis and fail, or worse, half-apply, on a cluster. Enforcing it on every call, in
 * production as in tests, turns a forgotten key into a loud error in the first test that runs the
 * path. test/unit/redis/declared-keys-lint.test.ts checks that no script calls `redis.call` itself.
 *
 * Scripts whose keys depend on data they read (the run an episode started, the workload a pod
 * resolved to) look them up with `declared(key)` first and, when one is missing, return the keys
 * they need before writing anything (see `needKeys`); the caller adds them and calls again.
 */

/** Where each command used by our scripts takes its keys: the first argument, or every argument. */
export const KEY_POSITIONS: Readonly<Record<string, 'first' | 'all'>> = {
  GET: 'first', SET: 'first', DEL: 'all', EXISTS: 'all', EXPIRE: 'first', PEXPIRE: 'first', PTTL: 'first',
  HGET: 'first', HSET: 'first', HSETNX: 'first', HDEL: 'first', HEXISTS: 'first', HGETALL: 'first', HINCRBY: 'first',
  ZADD: 'first', ZREM: 'first', ZCARD: 'first', ZRANGE: 'first', ZSCORE: 'first', ZREMRANGEBYSCORE: 'first', ZREMRANGEBYRANK: 'first',
  XADD: 'first', XTRIM: 'first',
};

const luaTable = Object.entries(KEY_POSITIONS)
  .map(([cmd, pos]) => `${cmd} = '${pos}'`)
  .join(', ');

export const DECLARED_KEYS_LUA = `
local declaredKeys = {}
for _, k in ipairs(KEYS) do declaredKeys[k] = true end
local KEY_POSITIONS = {${luaTable}}
local function declared(key) return declaredKeys[key] == true end
local function call(cmd, ...)
  local pos = KEY_POSITIONS[cmd]
  if pos == 'first' then
    local key = ...
    if not declaredKeys[key] then return error('undeclared-keys: ' .. cmd .. ' ' .. tostring(key) .. ' is not among the script\\'s KEYS') end
  elseif pos == 'all' then
    for i = 1, select('#', ...) do
      local key = select(i, ...)
      if not declaredKeys[key] then return error('undeclared-keys: ' .. cmd .. ' ' .. tostring(key) .. ' is not among the script\\'s KEYS') end
    end
  else
    return error('undeclared-keys: ' .. cmd .. ' is not in KEY_POSITIONS (src/redis/declared-keys-lua.ts)')
  end
  return redis.call(cmd, ...)
end
`;

/** A script body (calling `call`, never `redis.call`) behind the preamble. */
export function declaredKeysScript(body: string): string {
  return `${DECLARED_KEYS_LUA}\n${body}`;
}

/** The reply of a script that stopped before writing because it needs more declared keys. */
export const NEED_KEYS_PREFIX = 'NEED_KEYS:';

/** How often a caller adds the keys a script asked for and calls again before it gives up. */
export const MAX_KEY_ROUNDS = 4;
