"""The one request path every door calls: route → load → stream → record.

Doors (the socket, the editors' language server, HTTP) turn their protocol into a
request here and the typed events that come back into their protocol. Nothing in
this package knows a transport.
"""
