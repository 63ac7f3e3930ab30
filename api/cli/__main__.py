"""`python -m api.cli` is `strongroom`."""

import sys

from api.cli import main

sys.exit(main())
