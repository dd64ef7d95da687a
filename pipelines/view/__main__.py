"""``python -m pipelines.view [--publish DIR] [--day YYYY-MM-DD] [--port N] [--no-browser]``."""

import sys

from pipelines.view.cli import main

sys.exit(main())
