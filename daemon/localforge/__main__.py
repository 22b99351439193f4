from __future__ import annotations

import sys

from localforge.cli.main import main

sys.exit(main())
