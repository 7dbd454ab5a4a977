/**
 * Lua shared by the scripts that decide at intake: the pause guard (`POST /api/v1/pause`),
 * global or for one playbook. Defines `pausedDetail(tag, playbook)` → a detail string or nil.
 */
export const PAUSE_GUARD_LUA = `
local function pausedDetail(tag, playbook)
  local pauseKey = tag .. ':pause'
  if redis.call('HEXISTS', pauseKey, 'global') == 1 then return 'automation is paused globally' end
  if redis.call('HEXISTS', pauseKey, 'playbook:' .. playbook) == 1 then return 'playbook ' .. playbook .. ' is paused' end
  return nil
end
`;
