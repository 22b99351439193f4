"""Door: the language server (`lfd lsp`), a client of the daemon's socket over JSON-RPC."""
