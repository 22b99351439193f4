from __future__ import annotations

import sys

from localforge.cli import main

sys.exit(main())
