"""``python -m digitlab``: the command line (also ``torchrun -m digitlab``)."""

import sys

from digitlab.apps.cli.main import main

sys.exit(main())
