"""`python -m bench`: parse options, start a fresh server, run the scenarios, report."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench.plan import Plan, quick_plan
from bench.report import metadata, text_table, write_json, write_markdown
from bench.scenarios import SCENARIOS, Row, Session
from bench.server import bench_server
from bench.standin_llm import MODEL, standin_llm

BENCH_DIR = Path(__file__).resolve().parent
log = logging.getLogger("bench")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Start a fresh docmill server and measure it (see bench/README.md).",
    )
    parser.add_argument("--quick", action="store_true", help="a short run: small sizes, few tasks")
    parser.add_argument(
        "--scale", type=float, default=None, help="multiply file sizes and request budgets"
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help="comma-separated scenario numbers to run (default: all, 1–6)",
    )
    parser.add_argument(
        "--out", type=Path, default=BENCH_DIR / "out" / "results.json", help="results JSON file"
    )
    record = parser.add_mutually_exclusive_group()
    record.add_argument(
        "--record",
        dest="record",
        action="store_true",
        default=None,
        help="write bench/RESULTS.md (default: only full runs of every scenario)",
    )
    record.add_argument(
        "--no-record", dest="record", action="store_false", help="leave bench/RESULTS.md alone"
    )
    return parser.parse_args(argv)


def build_plan(quick: bool, scale: float | None) -> Plan:
    plan = quick_plan() if quick else Plan()
    return plan.scaled(scale) if scale is not None else plan


async def run_scenarios(plan: Plan, chosen: list[str], server_log: Path) -> list[Row]:
    """Start the server, run the chosen scenarios in order; their rows. The server's log
    is copied to `server_log`."""
    results: list[Row] = []
    llm_env = {"DOCMILL_LLM_DEFAULT_MODEL": MODEL}
    with (
        standin_llm(plan.llm_latency_s) as llm,
        bench_server(
            llm_env | {"DOCMILL_LLM_BASE_URL": llm.base_url}, keep_log=server_log
        ) as server,
    ):
        session = await Session.open(server, llm)
        try:
            await session.warm_up()
            for key in chosen:
                started = time.perf_counter()
                log.info("scenario %s (%s) ...", key, SCENARIOS[key].__name__)
                results += await SCENARIOS[key](session, plan)
                log.info("scenario %s done in %.1f s", key, time.perf_counter() - started)
        finally:
            await session.close()
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the suite; 0 on success, 2 on bad options."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    chosen = [key.strip() for key in args.only.split(",") if key.strip()]
    unknown = [key for key in chosen if key not in SCENARIOS]
    if unknown:
        log.error("unknown scenario(s): %s (choose from %s)", unknown, ", ".join(SCENARIOS))
        return 2
    plan = build_plan(args.quick, args.scale)
    load_before = [round(value, 2) for value in os.getloadavg()]
    started = time.perf_counter()
    results = asyncio.run(run_scenarios(plan, chosen, args.out.parent / "server.log"))
    meta = metadata(asdict(plan), BENCH_DIR.parent, time.perf_counter() - started, load_before)
    print(text_table(results))
    write_json(args.out, meta, results)
    print(f"\nresults: {args.out} (server log beside it)")
    full_run = not args.quick and args.scale is None and chosen == list(SCENARIOS)
    record = args.record if args.record is not None else full_run
    if record:
        command = shlex.join(
            ["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])]
        )
        write_markdown(BENCH_DIR / "RESULTS.md", meta, results, command)
        print(f"recorded: {BENCH_DIR / 'RESULTS.md'}")
    return 0
