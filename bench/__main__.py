"""`python -m bench`: run the benchmark suite."""

from bench.runner import main

raise SystemExit(main())
