"""``python -m proofs``: check every derivation and print the report."""

import sys

from proofs.cli import main

sys.exit(main())
