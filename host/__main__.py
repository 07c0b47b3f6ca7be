"""``python -m mendel`` is the ``mendel`` command."""
import sys

from mendel.cli import main

sys.exit(main())
