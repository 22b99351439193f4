--- :checkhealth localforge
local M = {}

function M.check()
  local health = vim.health
  health.start('localforge')
  local ok, localforge = pcall(require, 'localforge')
  if not ok then
    health.error('the plugin does not load: ' .. tostring(localforge))
    return
  end
  local version = vim.version()
  local shown = ('%d.%d.%d'):format(version.major, version.minor, version.patch)
  if vim.lsp.inline_completion then
    health.ok('Neovim ' .. shown .. ': suggestions use vim.lsp.inline_completion')
  elseif vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. shown .. ': suggestions use the plugin\'s own ghost text')
  else
    health.error('Neovim ' .. shown .. ' is too old: LocalForge needs 0.10 or newer')
  end
  local engine = localforge.engine()
  if engine then
    health.ok('setup() done; engine: ' .. engine)
  else
    health.warn('setup() was not called', { "add require('localforge').setup({}) to your config" })
  end
  local cmd = localforge.config.cmd
  if vim.fn.executable(cmd[1]) == 1 then
    health.ok('language server command: ' .. table.concat(cmd, ' '))
  else
    health.error(cmd[1] .. ' is not on PATH', {
      'install LocalForge (make setup) and put its bin directory on PATH',
      "or set cmd = { '/path/to/lfd', 'lsp' } in setup()",
    })
  end
  local client = require('localforge.util').client()
  if not client then
    health.info('no language server running yet: open a file to start one')
    return
  end
  health.ok('language server running (client id ' .. client.id .. ')')
  local answer = require('localforge.util').call(client, 'request_sync', 'localforge/status', {}, 5000)
  if not answer or answer.err then
    health.error('the server did not answer localforge/status: '
      .. tostring(answer and answer.err and answer.err.message or 'timeout'))
    return
  end
  local status = answer.result or {}
  if status.state == 'offline' then
    health.error('the daemon is offline: ' .. tostring(status.detail),
      { 'start it with `lfd serve`, or see $XDG_STATE_HOME/localforge/lsp.log' })
  elseif status.state == 'degraded' then
    health.warn('daemon degraded: ' .. tostring(status.detail))
  else
    health.ok('daemon ' .. tostring(status.state) .. ': ' .. tostring(status.text))
  end
end

return M
