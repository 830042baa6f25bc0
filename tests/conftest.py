"""Project tests run under the `featviz` Hypothesis profile (registered by the plugin)."""

from hypothesis import settings

settings.load_profile("featviz")
