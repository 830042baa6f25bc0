"""The ``featviz`` command: ``featviz layers``, ``featviz render``, ``featviz reach``."""

from .commands import LayerRow, layer_rows, main, parse_channels

__all__ = ["main", "parse_channels", "LayerRow", "layer_rows"]
