"""Unix-socket JSON-RPC 2.0: framing, message rules, dispatch, connections, server."""
