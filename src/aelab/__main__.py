"""``python -m aelab``: the same as the ``aelab`` command."""

import sys

from aelab.cli import main

sys.exit(main())
