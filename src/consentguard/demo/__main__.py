"""``python -m consentguard.demo``: run the demo site."""

import sys

from . import main

sys.exit(main())
