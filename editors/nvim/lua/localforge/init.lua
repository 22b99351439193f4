--- LocalForge for Neovim: inline suggestions, chat and explain from the local daemon.
---
---   require('localforge').setup({ ... })     -- see :help localforge
---
--- Starts `lfd lsp` through vim.lsp.start for every file buffer, shows suggestions
--- with Neovim's vim.lsp.inline_completion (0.12+) or its own ghost text (0.10/0.11),
--- and tells the server what happened to each suggestion so the router learns.
local config_module = require('localforge.config')
local feedback = require('localforge.feedback')
local util = require('localforge.util')

local M = {}

M.config = config_module.merge()
M.status = nil ---@type table|nil  the last localforge/status notification
M.enabled = true

local engine ---@type table|nil

local function pick_engine()
  local builtin = require('localforge.builtin')
  if M.config.builtin == false or (M.config.builtin == nil and not builtin.available()) then
    return require('localforge.ghost')
  end
  return builtin
end

local function observe(bufnr)
  if engine then
    feedback.observe(bufnr, engine.current(bufnr))
  end
end

--- Watch the inline completion answers of this client, to see what goes on screen.
local function watch_answers(client)
  if client._localforge_watched then
    return
  end
  client._localforge_watched = true
  local request = client.request
  local function watched(method, handler)
    if method ~= 'textDocument/inlineCompletion' or not handler then
      return handler
    end
    return function(err, result, ctx)
      handler(err, result, ctx)
      vim.schedule(function()
        if vim.api.nvim_buf_is_valid(ctx.bufnr) then
          observe(ctx.bufnr)
        end
      end)
    end
  end
  if util.METHODS then
    client.request = function(self, method, params, handler, bufnr)
      return request(self, method, params, watched(method, handler), bufnr)
    end
  else -- Neovim 0.10: client.request(method, params, handler, bufnr)
    client.request = function(method, params, handler, bufnr)
      return request(method, params, watched(method, handler), bufnr)
    end
  end
end

local function on_status(_, params)
  M.status = params
  pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'LocalForgeStatus', modeline = false })
  pcall(vim.cmd.redrawstatus)
  return vim.NIL
end

local function attach(bufnr)
  if not M.enabled or vim.bo[bufnr].buftype ~= '' then
    return
  end
  local filetypes = M.config.filetypes
  if filetypes and not vim.tbl_contains(filetypes, vim.bo[bufnr].filetype) then
    return
  end
  local root = vim.fs.root(bufnr, { '.git' }) or vim.fn.getcwd()
  vim.lsp.start({
    name = util.NAME,
    cmd = M.config.cmd,
    root_dir = root,
    -- inlineCompletion: this client shows inline suggestions (the plugin's ghost text on
    -- 0.10/0.11 too), so the server leaves textDocument/completion to other sources.
    init_options = { settings = M.config.settings, inlineCompletion = true },
    handlers = { ['localforge/status'] = on_status },
    on_attach = function(client, attached)
      watch_answers(client)
      if engine.name == 'ghost' then
        engine.enable(attached, M.config, observe)
      else
        engine.enable(attached)
      end
    end,
  }, { bufnr = bufnr, reuse_client = function(client, conf)
    return client.name == conf.name
  end })
end

-- --- actions (keymaps call these) ---------------------------------------------------

--- Accept the whole suggestion; false when there is none (the key then does its usual).
function M.accept()
  local bufnr = vim.api.nvim_get_current_buf()
  local item = engine and engine.current(bufnr)
  if not item then
    return false
  end
  feedback.accepted(bufnr, item.request_id)
  return engine.accept(bufnr)
end

local function accept_part(what)
  local bufnr = vim.api.nvim_get_current_buf()
  local item = engine and engine.current(bufnr)
  if not item or not item.text or item.text == '' then
    return false
  end
  local part = util.part(item.text, what)
  if part == item.text then
    return M.accept()
  end
  vim.schedule(function()
    engine.dismiss(bufnr)
    util.insert_at_cursor(part)
    feedback.partially_accepted(bufnr, item.request_id, util.utf16_len(part))
  end)
  return true
end

function M.accept_word()
  return accept_part('word')
end

function M.accept_line()
  return accept_part('line')
end

function M.dismiss()
  local bufnr = vim.api.nvim_get_current_buf()
  if not engine or not engine.current(bufnr) then
    return false
  end
  feedback.rejected(bufnr)
  engine.dismiss(bufnr)
  return true
end

function M.next()
  if engine then
    engine.cycle(vim.api.nvim_get_current_buf(), 1)
    vim.schedule(function()
      observe(vim.api.nvim_get_current_buf())
    end)
  end
end

function M.prev()
  if engine then
    engine.cycle(vim.api.nvim_get_current_buf(), -1)
    vim.schedule(function()
      observe(vim.api.nvim_get_current_buf())
    end)
  end
end

--- Turn suggestions on or off in every buffer.
function M.toggle()
  M.enabled = not M.enabled
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if util.client(bufnr) and engine then
      if M.enabled then
        engine.enable(bufnr, M.config, observe)
      else
        engine.disable(bufnr)
      end
    end
  end
  vim.notify('LocalForge suggestions ' .. (M.enabled and 'on' or 'off'))
end

--- For a statusline: 'LF gemma3-270m · cpu', or '' when no server runs.
function M.statusline()
  if not M.status then
    return util.client() and 'LF starting' or ''
  end
  return 'LF ' .. (M.status.text or M.status.state or '')
end

-- --- chat, explain, status ------------------------------------------------------------

function M.chat(text)
  require('localforge.chat').ask(text)
end

function M.explain()
  require('localforge.chat').explain()
end

function M.show_status()
  local client = util.client()
  if not client then
    vim.notify('LocalForge: no language server running; open a file first', vim.log.levels.WARN)
    return
  end
  util.call(client, 'request', 'localforge/status', {}, function(err, result)
    if err then
      vim.notify('LocalForge: ' .. err.message, vim.log.levels.ERROR)
      return
    end
    on_status(nil, result)
    local lines = {
      'LocalForge ' .. (result.state or '?') .. ': ' .. (result.text or ''),
      'resident: ' .. table.concat(result.resident or {}, ', '),
    }
    if result.degraded and #result.degraded > 0 then
      table.insert(lines, 'degraded: ' .. table.concat(result.degraded, ', '))
    end
    table.insert(lines, result.detail or '')
    vim.notify(table.concat(lines, '\n'))
  end)
end

-- --- setup ----------------------------------------------------------------------------

local function map(lhs, fn, desc, fallback)
  if not lhs then
    return
  end
  vim.keymap.set('i', lhs, function()
    if fn() then
      return ''
    end
    return fallback and vim.api.nvim_replace_termcodes(lhs, true, false, true) or ''
  end, { expr = true, silent = true, desc = desc })
end

function M.setup(opts)
  M.config = config_module.merge(opts)
  engine = pick_engine()
  local keys = M.config.keymaps
  map(keys.accept, M.accept, 'LocalForge: accept the suggestion', true)
  map(keys.accept_line, M.accept_line, 'LocalForge: accept a line', true)
  map(keys.accept_word, M.accept_word, 'LocalForge: accept a word', true)
  map(keys.dismiss, M.dismiss, 'LocalForge: dismiss the suggestion', true)
  map(keys.next, function()
    M.next()
    return true
  end, 'LocalForge: next suggestion', false)
  map(keys.prev, function()
    M.prev()
    return true
  end, 'LocalForge: previous suggestion', false)

  local group = vim.api.nvim_create_augroup('localforge', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile', 'FileType' }, {
    group = group,
    callback = function(args)
      attach(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd({ 'CursorMovedI', 'TextChangedI' }, {
    group = group,
    callback = function(args)
      vim.schedule(function()
        if vim.api.nvim_buf_is_valid(args.buf) then
          observe(args.buf)
        end
      end)
    end,
  })
  vim.api.nvim_create_autocmd('InsertLeave', {
    group = group,
    callback = function(args)
      feedback.rejected(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd('TextYankPost', {
    group = group,
    callback = function(args)
      local client = util.client(args.buf)
      if client and vim.v.event.operator == 'y' then
        util.call(client, 'notify', 'localforge/didYank', {
          uri = vim.uri_from_bufnr(args.buf),
          text = table.concat(vim.v.event.regcontents, '\n'),
        })
      end
    end,
  })
  vim.lsp.commands['localforge.askSelection'] = function(command)
    local argument = command.arguments and command.arguments[1] or {}
    require('localforge.chat').ask_about(argument.text or '', argument.languageId)
  end
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.api.nvim_buf_get_name(bufnr) ~= '' then
      attach(bufnr)
    end
  end
  return M
end

--- The suggestion on screen in the current buffer: { text, request_id, ... } or nil.
function M.current()
  return engine and engine.current(vim.api.nvim_get_current_buf())
end

--- Which engine shows suggestions: 'builtin' or 'ghost' (after setup).
function M.engine()
  return engine and engine.name
end

return M
