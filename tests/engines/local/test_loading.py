"""Importing and constructing the engine (what the API process does) loads no model."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from docmill.engines import get_engine
engine = get_engine("local")
assert (engine.name, engine.kind) == ("local", "cpu"), engine
heavy = sorted(m for m in ("onnxruntime", "rapidocr", "rapid_layout", "cv2") if m in sys.modules)
print(",".join(heavy))
"""


def test_constructing_the_engine_loads_no_model() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""
