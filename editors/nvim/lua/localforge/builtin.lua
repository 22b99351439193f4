--- Suggestions through Neovim's own vim.lsp.inline_completion (0.12+).
---
--- Showing, accepting, cycling and dismissing are Neovim's; the plugin reads which
--- item is on screen (for the show/reject notifications) and accepts parts of it.
local util = require('localforge.util')

local M = { name = 'builtin' }

local NAMESPACE = 'nvim.lsp.inline_completion'

local function completor(bufnr)
  local ok, capability = pcall(require, 'vim.lsp._capability')
  if not ok or type(capability.all) ~= 'table' or not capability.all.inline_completion then
    return nil
  end
  return capability.all.inline_completion.active[bufnr]
end

function M.available()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
end

function M.enable(bufnr)
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
end

function M.disable(bufnr)
  vim.lsp.inline_completion.enable(false, { bufnr = bufnr })
end

--- The item on screen: { text, request_id, command, client_id }, or nil.
function M.current(bufnr)
  local c = completor(bufnr)
  if not c or not c.current then
    return nil
  end
  local ns = vim.api.nvim_get_namespaces()[NAMESPACE]
  if not ns or #vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { limit = 1 }) == 0 then
    return nil
  end
  local text = c.current.insert_text
  if type(text) == 'table' then
    text = text.value
  end
  return {
    text = text,
    request_id = util.request_id(c.current.command),
    command = c.current.command,
    client_id = c.current.client_id,
  }
end

--- Accept the whole item; Neovim inserts it and runs its accept command.
function M.accept(bufnr)
  return vim.lsp.inline_completion.get({ bufnr = bufnr })
end

function M.dismiss(bufnr)
  local c = completor(bufnr)
  if c then
    c:abort()
  end
end

function M.cycle(bufnr, count)
  vim.lsp.inline_completion.select({ bufnr = bufnr, count = count })
end

return M
