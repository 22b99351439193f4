--- Defaults of require("localforge").setup({...}); see :help localforge-config.
local M = {}

M.defaults = {
  -- The language server: one `lfd lsp` per Neovim instance, a client of the daemon.
  cmd = { 'lfd', 'lsp' },
  -- `lsp.*` settings sent as initializationOptions, e.g. { ['lsp.max_tokens'] = 32 }.
  settings = {},
  -- Filetypes to attach to; nil attaches to every buffer that is a file.
  filetypes = nil,
  -- true: Neovim's own vim.lsp.inline_completion (0.12+); false: the plugin's ghost text;
  -- nil: the built-in one when Neovim has it.
  builtin = nil,
  -- Debounce of the plugin's own ghost text (the built-in one waits 200 ms by itself).
  debounce_ms = 75,
  -- Insert-mode keymaps; set one to false to leave that key alone.
  keymaps = {
    accept = '<Tab>',
    accept_line = '<S-Tab>',
    accept_word = '<M-Right>',
    dismiss = '<C-]>',
    next = '<M-]>',
    prev = '<M-[>',
  },
  -- Chat window: 'split', 'vsplit' or 'tab'; the longest answer, in tokens.
  chat_window = 'vsplit',
  chat_max_tokens = 512,
}

function M.merge(opts)
  return vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
end

return M
