"""`python -m bench`: run the benchmarks and update bench/RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

from bench import bench_local

if __name__ == "__main__":
    arguments = sys.argv[1:] or ["--write", str(Path(__file__).with_name("RESULTS.md"))]
    bench_local.main(arguments)
