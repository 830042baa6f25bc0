"""``python -m pytest_featviz.cli``: the ``featviz`` command."""

import sys

from .command import main

sys.exit(main())
