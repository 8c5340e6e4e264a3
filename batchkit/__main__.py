"""``python -m batchkit``: see `cli`."""

from .cli import main

raise SystemExit(main())
