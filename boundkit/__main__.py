"""``python -m boundkit``: the same as the ``boundkit`` command."""

from boundkit.cli import main

raise SystemExit(main())
