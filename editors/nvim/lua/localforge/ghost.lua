--- The plugin's own ghost text, for Neovim 0.10 and 0.11 (no vim.lsp.inline_completion).
---
--- Asks textDocument/inlineCompletion after a short debounce in insert mode,
--- cancels the request a newer keystroke supersedes, and shows the item as
--- inline virtual text plus virtual lines at the cursor.
local util = require('localforge.util')

local M = { name = 'ghost' }

local ns = vim.api.nvim_create_namespace('localforge.ghost')
local state = {} ---@type table<integer, table>

local function buffer_state(bufnr)
  state[bufnr] = state[bufnr] or { items = {}, index = 1 }
  return state[bufnr]
end

function M.available()
  return true
end

local function cursor()
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  return row, col
end

function M.clear(bufnr)
  local st = buffer_state(bufnr)
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  st.shown = false
end

function M.show(bufnr)
  local st = buffer_state(bufnr)
  M.clear(bufnr)
  local item = st.items[st.index]
  if not item or not st.pos then
    return
  end
  local text = type(item.insertText) == 'table' and item.insertText.value or item.insertText
  if type(text) ~= 'string' or text == '' then
    return
  end
  local lines = vim.split(text, '\n', { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    table.insert(virt_lines, { { lines[i], 'Comment' } })
  end
  vim.api.nvim_buf_set_extmark(bufnr, ns, st.pos[1] - 1, st.pos[2], {
    virt_text = { { lines[1], 'Comment' } },
    virt_text_pos = 'inline',
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = 'combine',
  })
  st.shown = true
  if st.on_change then
    st.on_change(bufnr)
  end
end

function M.request(bufnr)
  local client = util.client(bufnr)
  local st = buffer_state(bufnr)
  if not client or vim.api.nvim_get_current_buf() ~= bufnr then
    return
  end
  if st.pending then
    util.call(client, 'cancel_request', st.pending) -- superseded: the daemon stops generating
    st.pending = nil
  end
  local row, col = cursor()
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 2 }
  local ok, id = util.call(client, 'request', 'textDocument/inlineCompletion', params, function(err, result)
    st.pending = nil
    local now_row, now_col = cursor()
    if err or not result or now_row ~= row or now_col ~= col then
      return
    end
    st.items = result.items or result
    st.index = 1
    st.pos = { row, col }
    M.show(bufnr)
  end, bufnr)
  if ok then
    st.pending = id
  end
end

function M.enable(bufnr, config, on_change)
  local st = buffer_state(bufnr)
  st.on_change = on_change
  local group = vim.api.nvim_create_augroup('localforge.ghost.' .. bufnr, { clear = true })
  local function schedule()
    if st.timer then
      st.timer:stop()
    end
    local row, col = cursor()
    if not st.pos or st.pos[1] ~= row or st.pos[2] ~= col then
      M.clear(bufnr)
    end
    st.timer = vim.defer_fn(function()
      M.request(bufnr)
    end, config.debounce_ms)
  end
  vim.api.nvim_create_autocmd({ 'InsertEnter', 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    buffer = bufnr,
    callback = schedule,
  })
  vim.api.nvim_create_autocmd('InsertLeave', {
    group = group,
    buffer = bufnr,
    callback = function()
      M.clear(bufnr)
      st.items = {}
    end,
  })
end

function M.disable(bufnr)
  pcall(vim.api.nvim_del_augroup_by_name, 'localforge.ghost.' .. bufnr)
  M.clear(bufnr)
  state[bufnr] = nil
end

function M.current(bufnr)
  local st = buffer_state(bufnr)
  local item = st.items[st.index]
  if not st.shown or not item then
    return nil
  end
  local row, col = cursor()
  if not st.pos or st.pos[1] ~= row or st.pos[2] ~= col then
    return nil
  end
  local text = type(item.insertText) == 'table' and item.insertText.value or item.insertText
  return {
    text = text,
    request_id = util.request_id(item.command),
    command = item.command,
    client_id = util.client(bufnr) and util.client(bufnr).id,
  }
end

function M.accept(bufnr)
  local item = M.current(bufnr)
  if not item then
    return false
  end
  vim.schedule(function()
    M.clear(bufnr)
    buffer_state(bufnr).items = {}
    util.insert_at_cursor(item.text)
    local client = util.client(bufnr)
    if client and item.command then
      util.exec(client, item.command, bufnr)
    end
  end)
  return true
end

function M.dismiss(bufnr)
  M.clear(bufnr)
  buffer_state(bufnr).items = {}
end

function M.cycle(bufnr, count)
  local st = buffer_state(bufnr)
  if #st.items == 0 then
    return
  end
  st.index = (st.index - 1 + count) % #st.items + 1
  M.show(bufnr)
end

return M
