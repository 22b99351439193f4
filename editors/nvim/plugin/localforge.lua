-- User commands; they work once require('localforge').setup() has run.
if vim.g.loaded_localforge then
  return
end
vim.g.loaded_localforge = true

vim.api.nvim_create_user_command('LocalForgeChat', function(args)
  require('localforge').chat(args.args)
end, { nargs = '*', desc = 'Ask LocalForge; the answer streams into a scratch buffer' })

vim.api.nvim_create_user_command('LocalForgeExplain', function()
  require('localforge').explain()
end, { desc = 'Why the last suggestion or answer came from its model' })

vim.api.nvim_create_user_command('LocalForgeStatus', function()
  require('localforge').show_status()
end, { desc = 'The daemon: current model, loading, CPU/GPU, degraded models' })

vim.api.nvim_create_user_command('LocalForgeToggle', function()
  require('localforge').toggle()
end, { desc = 'Turn LocalForge suggestions on or off' })
