"""``python -m batchkit``: see :mod:`batchkit.cli`."""

from .cli import main

raise SystemExit(main())
