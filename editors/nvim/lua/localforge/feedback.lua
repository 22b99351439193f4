--- The show / partial / reject notifications the server turns into outcomes.
---
--- A suggestion is "shown" when its request id first appears on screen. It is
--- rejected when dismissed, when insert mode is left while it is on screen, or when
--- a different suggestion replaces it; hiding it for a moment (the user typed its
--- first characters and the rest comes back under the same id) is neither. The
--- server applies the rules: under 250 ms on screen counts for nothing, 10 s
--- without acceptance is a rejection.
local util = require('localforge.util')

local M = {}

local shown = {} ---@type table<integer, string>
local settled = {} ---@type table<string, boolean>

local function notify(bufnr, method, params)
  local client = util.client(bufnr)
  if client then
    util.call(client, 'notify', method, params)
  end
end

--- Tell the server about the item now on screen in `bufnr` (nil: none right now).
function M.observe(bufnr, item)
  local request_id = item and item.request_id
  if request_id == nil or request_id == shown[bufnr] then
    return
  end
  M.rejected(bufnr)
  shown[bufnr] = request_id
  notify(bufnr, 'localforge/didShow', { requestId = request_id })
end

function M.accepted(bufnr, request_id)
  settled[request_id] = true
  if shown[bufnr] == request_id then
    shown[bufnr] = nil
  end
end

--- `accepted_length`: UTF-16 units from the start of the item's insertText.
function M.partially_accepted(bufnr, request_id, accepted_length)
  notify(bufnr, 'localforge/didPartiallyAccept', {
    requestId = request_id,
    acceptedLength = accepted_length,
  })
end

--- The suggestion on screen (if any) was dismissed, left or replaced.
function M.rejected(bufnr)
  local request_id = shown[bufnr]
  shown[bufnr] = nil
  if request_id and not settled[request_id] then
    settled[request_id] = true
    notify(bufnr, 'localforge/didReject', { requestId = request_id })
  end
end

function M.shown(bufnr)
  return shown[bufnr]
end

return M
