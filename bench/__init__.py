"""docmill benchmarks: one command (`python -m bench`, `make bench`, `docmill bench`) that
starts a fresh server, runs every scenario with an async load generator and reports a
table, `bench/out/results.json` and `bench/RESULTS.md`. Measurement only: nothing here
asserts a timing."""
