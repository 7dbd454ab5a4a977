/**
 * Lua shared by the scripts that decide at intake: the pause guard (`POST /api/v1/pause`),
 * global or for one playbook. Defines `pausedDetail(tag, playbook)` → a detail string or nil.
 * The pause hash is read once per script run, however many alerts it decides.
 */
export const PAUSE_GUARD_LUA = `
local pauseState = nil
local function pausedDetail(tag, playbook)
  if pauseState == nil then
    pauseState = {}
    local flat = call('HGETALL', tag .. ':pause')
    for i = 1, #flat, 2 do pauseState[flat[i]] = true end
  end
  if pauseState['global'] then return 'automation is paused globally' end
  if pauseState['playbook:' .. playbook] then return 'playbook ' .. playbook .. ' is paused' end
  return nil
end
`;
