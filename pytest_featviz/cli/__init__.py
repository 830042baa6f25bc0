"""The ``featviz`` command: ``featviz layers``, ``featviz render``, ``featviz reach``."""

from .args import parse_channels
from .command import main
from .layers import LayerRow, layer_rows

__all__ = ["main", "parse_channels", "LayerRow", "layer_rows"]
