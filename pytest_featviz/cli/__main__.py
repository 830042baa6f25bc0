"""``python -m pytest_featviz.cli``: the ``featviz`` command."""

import sys

from .commands import main

sys.exit(main())
