--- :LocalForgeChat (a scratch buffer the answer streams into) and :LocalForgeExplain.
local util = require('localforge.util')

local M = {}

local chat = { buf = nil, history = {}, token = nil, last = nil, count = 0 }

local function config()
  return require('localforge').config
end

local function open_window(buf)
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(win) == buf then
      return win
    end
  end
  local how = config().chat_window
  vim.cmd(how == 'tab' and 'tabnew' or how == 'split' and 'new' or 'vnew')
  vim.api.nvim_win_set_buf(0, buf)
  return vim.api.nvim_get_current_win()
end

local function scratch(name, filetype)
  local buf = vim.fn.bufnr(name)
  if buf == -1 or not vim.api.nvim_buf_is_valid(buf) then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, name)
    vim.bo[buf].buftype = 'nofile'
    vim.bo[buf].bufhidden = 'hide'
    vim.bo[buf].swapfile = false
    vim.bo[buf].filetype = filetype
  end
  return buf
end

local function append(buf, text)
  local last = vim.api.nvim_buf_line_count(buf)
  local line = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ''
  local pieces = vim.split(line .. text, '\n', { plain = true })
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, pieces)
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(win) == buf then
      vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
    end
  end
end

local function rate(up)
  local client = util.client()
  if not client or not chat.last then
    vim.notify('LocalForge: no answer to rate yet', vim.log.levels.WARN)
    return
  end
  local kind = up and 'thumbs_up' or 'thumbs_down'
  util.call(client, 'request', 'localforge/feedback', { kind = kind, requestId = chat.last }, function(err)
    if err then
      vim.notify('LocalForge: ' .. err.message, vim.log.levels.WARN)
    else
      vim.notify('LocalForge: ' .. (up and 'thumbs up' or 'thumbs down') .. ' recorded')
    end
  end)
end

local function chat_buffer()
  local buf = scratch('LocalForge Chat', 'markdown')
  if not chat.buf then
    chat.buf = buf
    local opts = { buffer = buf, silent = true }
    vim.keymap.set('n', '+', function()
      rate(true)
    end, vim.tbl_extend('force', opts, { desc = 'LocalForge: thumbs up on the last answer' }))
    vim.keymap.set('n', '-', function()
      rate(false)
    end, vim.tbl_extend('force', opts, { desc = 'LocalForge: thumbs down on the last answer' }))
    vim.keymap.set('n', 'i', function()
      vim.ui.input({ prompt = 'Ask LocalForge: ' }, function(text)
        if text and text ~= '' then
          M.ask(text)
        end
      end)
    end, vim.tbl_extend('force', opts, { desc = 'LocalForge: ask a follow-up' }))
    vim.keymap.set('n', 'q', '<cmd>close<cr>', opts)
  end
  return buf
end

-- Streamed pieces arrive as $/progress with our partialResultToken.
vim.api.nvim_create_autocmd('LspProgress', {
  group = vim.api.nvim_create_augroup('localforge.chat', { clear = true }),
  callback = function(args)
    local params = args.data and args.data.params
    if params and chat.token and params.token == chat.token and type(params.value) == 'table' then
      local delta = params.value.delta
      if type(delta) == 'string' and chat.buf and vim.api.nvim_buf_is_valid(chat.buf) then
        append(chat.buf, delta)
      end
    end
  end,
})

--- Ask `text` in the chat buffer; the answer streams in. `done(result)` is called at the end.
function M.ask(text, done)
  local client = util.client()
  if not client then
    vim.notify('LocalForge: no language server running; open a file first', vim.log.levels.WARN)
    return
  end
  if not text or text == '' then
    vim.ui.input({ prompt = 'Ask LocalForge: ' }, function(input)
      if input and input ~= '' then
        M.ask(input, done)
      end
    end)
    return
  end
  local buf = chat_buffer()
  open_window(buf)
  local lines = vim.api.nvim_buf_line_count(buf)
  local empty = lines == 1 and vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == ''
  local header = vim.list_extend({ '## You', '' }, vim.split(text, '\n', { plain = true }))
  vim.list_extend(header, { '', '## LocalForge', '', '' })
  vim.api.nvim_buf_set_lines(buf, empty and 0 or -1, -1, false, header)
  table.insert(chat.history, { role = 'user', content = text })
  chat.count = chat.count + 1
  chat.token = 'localforge-chat-' .. chat.count
  util.call(client, 'request', 'localforge/chat', {
    messages = chat.history,
    maxTokens = config().chat_max_tokens,
    partialResultToken = chat.token,
  }, function(err, result)
    chat.token = nil
    if err then
      append(buf, '\n> ' .. err.message .. '\n')
      table.remove(chat.history)
    else
      table.insert(chat.history, { role = 'assistant', content = result.text or '' })
      chat.last = result.requestId
      append(buf, ('\n\n_%s · %s · + / - to rate, i to ask more_'):format(
        result.model or '?',
        result.taskType or '?'
      ))
    end
    if done then
      done(err, result)
    end
  end)
end

--- The code action "Ask LocalForge about the selection".
function M.ask_about(selection, language)
  local fence = '```' .. (language or '')
  M.ask('Explain this code:\n' .. fence .. '\n' .. selection .. '\n```')
end

local function format_trace(trace)
  local lines = {
    'Decision ' .. tostring(trace.requestId),
    ('task      %s  confidence %.2f'):format(trace.task_type or '?', trace.confidence or 0),
    'winner    ' .. tostring(trace.winner) .. ': ' .. tostring(trace.reason),
    '',
    ('%-2s %-24s %9s %9s %9s %9s %9s'):format('', 'model', 'benchmark', 'memory', 'latency',
      'feedback', 'final'),
  }
  for _, c in ipairs(trace.candidates or {}) do
    local s = c.signals or {}
    table.insert(lines, ('%-2s %-24s %9.3f %9.3f %9.3f %9.3f %9.3f'):format(
      c.model == trace.winner and '->' or '',
      c.model,
      s.benchmark or 0,
      s.memory or 0,
      s.latency or 0,
      s.feedback or 0,
      c.final or 0
    ))
  end
  table.insert(lines, '')
  local timings = {}
  for key, value in pairs(trace.timings_ms or {}) do
    table.insert(timings, ('%s %.1f'):format(key, value))
  end
  table.sort(timings)
  table.insert(lines, 'timings   ' .. table.concat(timings, '  ') .. ' (ms)')
  table.insert(lines, 'memory    ' .. tostring(trace.neighbours or 0) .. ' neighbours used')
  return lines
end

--- :LocalForgeExplain: why the last suggestion or answer came from its model.
function M.explain(done)
  local client = util.client()
  if not client then
    vim.notify('LocalForge: no language server running; open a file first', vim.log.levels.WARN)
    return
  end
  util.call(client, 'request', 'localforge/explain', {}, function(err, trace)
    if err then
      vim.notify('LocalForge: ' .. err.message, vim.log.levels.WARN)
    else
      local buf = scratch('LocalForge Explain', 'localforge-explain')
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, format_trace(trace))
      open_window(buf)
    end
    if done then
      done(err, trace)
    end
  end)
end

M._format_trace = format_trace

return M
