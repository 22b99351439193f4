"""`lfd`: the daemon's command line: serve, and the tools that work without a daemon."""
