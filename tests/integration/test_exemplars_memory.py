"""fv.top_examples streams 50,000 inputs from a generator in flat memory (resident set, in a subprocess)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import pytest_featviz as fv

    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

    model = fv.load_model(sys.argv[1])
    objective = fv.Channel("conv2", list(range(16)))

    def stream(n):  # fresh 28x28 inputs, 250 at a time: 3 KiB each
        rng = np.random.default_rng(0)
        for _ in range(n // 250):
            yield rng.random((250, 28, 28, 1), dtype=np.float32)

    fv.top_examples(model, objective, stream(5_000))  # warm-up: compiled, allocator settled
    before = rss_mb()
    top = fv.top_examples(model, objective, stream(50_000))
    print(json.dumps({"before": before, "after": rss_mb(), "count": top[0].count}))
    """
)


def test_fifty_thousand_streamed_inputs_leave_the_resident_set_flat():
    """The 50,000 inputs are 150 MiB; the stream keeps a few batches, 9+9 inputs per channel and a float per
    input and channel (6 MiB), so the resident set may not grow by more than 40 MiB."""
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT / "examples" / "models" / "digits_cnn.keras")],
        capture_output=True,
        text=True,
        check=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": ""},
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["count"] == 50_000
    assert found["after"] - found["before"] < 40, found
