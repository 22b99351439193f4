--- Small helpers shared by the plugin's modules.
local M = {}

M.NAME = 'localforge'

--- The localforge client attached to `bufnr` (or any, when bufnr is nil).
function M.client(bufnr)
  local clients = vim.lsp.get_clients({ name = M.NAME, bufnr = bufnr })
  return clients[1]
end

-- Neovim 0.11 made the client's functions methods (client:request); 0.10 has client.request.
local METHODS = vim.fn.has('nvim-0.11') == 1
M.METHODS = METHODS

--- Call the client's `name` (request, notify, cancel_request, request_sync, ...) on 0.10+.
function M.call(client, name, ...)
  if METHODS then
    return client[name](client, ...)
  end
  return client[name](...)
end

--- Run an item's command (localforge.accept) on the server.
function M.exec(client, command, bufnr)
  if METHODS and client.exec_cmd then
    return client:exec_cmd(command, { bufnr = bufnr })
  end
  return M.call(client, 'request', 'workspace/executeCommand', {
    command = command.command,
    arguments = command.arguments,
  }, function() end, bufnr)
end

--- Length of `text` in UTF-16 code units, as LSP counts positions.
function M.utf16_len(text)
  local ok, units = pcall(vim.str_utfindex, text, 'utf-16') -- Neovim 0.11+
  if ok and type(units) == 'number' then
    return units
  end
  local _, utf16 = vim.str_utfindex(text) -- 0.10: (UTF-32, UTF-16) of the whole string
  return utf16
end

--- The request id an item's accept command carries.
function M.request_id(command)
  if type(command) ~= 'table' or type(command.arguments) ~= 'table' then
    return nil
  end
  local first = command.arguments[1]
  if type(first) == 'table' then
    return first.requestId
  end
  return first
end

--- The first part of a suggestion: a word, or a line.
function M.part(text, what)
  if what == 'word' then
    local word = text:match('^%s*[%w_]+') or text:match('^%s*[^%w_%s]+') or text:match('^%s+')
    return word or text
  end
  local newline = text:find('\n', 1, true)
  if newline == nil then
    return text
  end
  if newline > 1 then
    return text:sub(1, newline - 1)
  end
  local following = text:find('\n', 2, true)
  return following and text:sub(1, following - 1) or text
end

--- Insert `text` at the cursor (it may hold newlines) and put the cursor after it.
function M.insert_at_cursor(text)
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local lines = vim.split(text, '\n', { plain = true })
  vim.api.nvim_buf_set_text(0, row - 1, col, row - 1, col, lines)
  local last = #lines == 1 and col + #lines[1] or #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row + #lines - 1, last })
end

return M
