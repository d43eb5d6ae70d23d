"""The benchmark scenarios. Each takes the running server and a Plan and returns result
rows (plain dicts, the shape of `results.json`)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench.documents import aiter_chunks, multipart_chunks, pdf_chunks, scanned_pdf, text_pdf
from bench.documents import text_pages as make_pages
from bench.load import LoadRun, RequestFailed, expect, run_load
from bench.plan import MB, Plan, size_bytes
from bench.seed import seed_tasks
from bench.server import BenchServer, Memory, growth
from bench.standin_llm import StandInLLM
from bench.stats import Summary, summarize
from docmill.config import Settings

FINISHED = ("completed", "failed", "cancelled")
ENGINE_WORKERS = int(Settings.model_fields["engine_workers"].default)  # the server's default
PASSWORD = "bench password 123"
_seeds = itertools.count(1000)

Row = dict[str, Any]


def next_seed() -> int:
    """A number never used before in this run: documents built from it are unique."""
    return next(_seeds)


def engine_available(name: str) -> bool:
    """Whether the engine's module exists in this checkout (the server runs the same
    code)."""
    modules = {"pdf_text": "docmill.engines.pdf_text", "local": "docmill.engines.local"}
    return importlib.util.find_spec(modules[name]) is not None


def row(
    scenario: str,
    name: str,
    *,
    size: str = "",
    summary: Summary | None = None,
    rate: float | None = None,
    unit: str = "",
    memory: tuple[Memory, Memory] | None = None,
    note: str = "",
    **extra: Any,
) -> Row:
    """One result row. `rate` defaults to the summary's requests/s (or MB/s when `unit`
    is MB/s); `memory` is (before, after) and gives peaks and growth in MB."""
    values: Row = {"scenario": scenario, "name": name, "size": size}
    values |= asdict(summary) if summary else {"requests": None, "concurrency": None}
    if summary and rate is None:
        rate = summary.mb_per_s if unit == "MB/s" else summary.requests_per_s
        unit = unit or "req/s"
    values |= {"rate": rate, "rate_unit": unit}
    if memory:
        before, after = memory
        server_growth, tree_growth = growth(before, after)
        values |= {
            "server_peak_rss_mb": round(after.server_peak / MB, 1),
            "server_rss_growth_mb": round(server_growth / MB, 1) + 0.0,  # no "-0.0"
            "tree_peak_rss_mb": round(after.tree_peak / MB, 1),
            "tree_rss_growth_mb": round(tree_growth / MB, 1) + 0.0,
            "tree_processes": after.processes,
            "peaks_reset": before.peaks_reset,
        }
    values["note"] = note
    return values | extra


def not_available(scenario: str, name: str, note: str) -> Row:
    return row(scenario, name, note=note, rate=None, unit="n/a")


@dataclass
class Session:
    """The server, a registered user and a client carrying their token."""

    server: BenchServer
    client: httpx.AsyncClient
    user_id: int
    llm: StandInLLM | None = None

    async def warm_up(self) -> None:
        """Convert two small documents at once (so every engine worker has started and
        imported its engine) and read one result back: first-use costs stay out of the
        measured rows."""
        tasks = await asyncio.gather(
            *(self.upload_bytes(text_pdf(2, next_seed()), "warm.pdf", "pdf_text") for _ in "ab")
        )
        for task in tasks:
            await self.wait_finished(task["id"], 120)
        expect(await self.client.get(f"/api/download/{tasks[0]['id']}"))
        expect(await self.client.get(f"/api/files/{tasks[0]['id']}/original"))

    @classmethod
    async def open(cls, server: BenchServer, llm: StandInLLM | None = None) -> Session:
        client = httpx.AsyncClient(
            base_url=server.base_url,
            timeout=httpx.Timeout(300, connect=10),
            limits=httpx.Limits(max_connections=128, max_keepalive_connections=128),
        )
        name = f"bench_{uuid.uuid4().hex[:8]}"
        response = await client.post(
            "/api/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        expect(response, 201)
        data = response.json()
        client.headers["Authorization"] = f"Bearer {data['token']}"
        return cls(server, client, int(data["user"]["id"]), llm)

    async def close(self) -> None:
        await self.client.aclose()

    async def upload_bytes(self, data: bytes, filename: str, engine: str) -> dict[str, Any]:
        """Upload a document held in memory; the task. Raises RequestFailed."""
        response = await self.client.post(
            "/api/upload",
            files={"file": (filename, data, "application/pdf")},
            data={"engine": engine},
        )
        return dict(expect(response, 200, 202).json()["data"])

    async def upload_stream(
        self, size: int, engine: str, filename: str = "big.pdf"
    ) -> tuple[dict[str, Any], int, float]:
        """Stream a generated PDF of about `size` bytes; (task, bytes sent, seconds).
        Raises RequestFailed."""
        boundary = f"bench-{uuid.uuid4().hex}"
        chunks = pdf_chunks(make_pages(1, next_seed()), pad_to=size)
        sent = [0]
        body = aiter_chunks(
            multipart_chunks(chunks, boundary, filename=filename, fields={"engine": engine}),
            sent,
        )
        begin = time.perf_counter()
        response = await self.client.post(
            "/api/upload",
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        seconds = time.perf_counter() - begin
        return dict(expect(response, 200, 202).json()["data"]), sent[0], seconds

    async def delete(self, task_id: str) -> None:
        """Delete a task (cancelling it when it runs) with its files. Raises
        RequestFailed."""
        expect(await self.client.delete(f"/api/tasks/{task_id}"), 200, 204)

    async def wait_finished(self, task_id: str, timeout_s: float) -> dict[str, Any]:
        """Poll until the task is completed, failed or cancelled; the task. Raises
        TimeoutError."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = await self.client.get(f"/api/tasks/{task_id}/status")
            task = dict(expect(response).json()["data"])
            if task["status"] in FINISHED:
                return task
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} still {task['status']}")
            await asyncio.sleep(0.05)


async def measured(
    session: Session, work: Awaitable[LoadRun]
) -> tuple[LoadRun, tuple[Memory, Memory]]:
    """Await `work` (a coroutine not yet started) between two memory readings (peaks
    reset before it)."""
    session.server.check_alive()
    before = session.server.reset_peaks()
    run = await work
    session.server.check_alive()
    return run, (before, session.server.memory())


# 1. List, status and sync with many tasks ------------------------------------------------


async def task_routes(session: Session, plan: Plan) -> list[Row]:
    """GET /api/tasks?limit=100, /api/tasks/{id}/status and /api/sync for growing numbers
    of the user's tasks (seeded into the database), at each concurrency."""
    rows: list[Row] = []
    ids: list[str] = []
    sync_missing: str | None = None
    client = session.client

    async def list_tasks(_: int) -> int:
        return len(expect(await client.get("/api/tasks", params={"limit": 100})).content)

    async def task_status(number: int) -> int:
        task_id = ids[(number * 7919) % len(ids)]
        return len(expect(await client.get(f"/api/tasks/{task_id}/status")).content)

    async def sync(_: int) -> int:
        return len(expect(await client.get("/api/sync")).content)

    for count in plan.task_counts:
        ids += await seed_tasks(
            session.server.database_url, session.user_id, len(ids), count - len(ids)
        )
        routes = [
            ("GET /api/tasks?limit=100", list_tasks),
            ("GET /api/tasks/{id}/status", task_status),
        ]
        if sync_missing is None:
            probe = await client.get("/api/sync")
            if probe.status_code == 404:
                sync_missing = "n/a: /api/sync answers 404 (not built on this branch yet)"
                rows.append(not_available("1 tasks", "GET /api/sync", sync_missing))
            else:
                routes.append(("GET /api/sync (full)", sync))
        for name, request in routes:
            await request(0)  # warm caches and connections
            for concurrency in plan.concurrencies:
                run, memory = await measured(
                    session,
                    run_load(
                        request,
                        requests=max(plan.api_requests, 2 * concurrency),
                        concurrency=concurrency,
                        max_seconds=plan.api_seconds,
                    ),
                )
                rows.append(
                    row(
                        "1 tasks",
                        name,
                        size=f"{count} tasks",
                        summary=run.summary(),
                        memory=memory,
                        note="; ".join(run.error_samples),
                        response_kb=round(run.bytes_moved / max(len(run.latencies_s), 1) / 1024, 1),
                    )
                )
    return rows


# 2. Uploads ------------------------------------------------------------------------------


async def uploads(session: Session, plan: Plan) -> list[Row]:
    """Sequential streamed uploads of each size; each task is left to finish before the
    next upload so conversions do not compete with the measured transfer."""
    rows = []
    for size_mb in plan.upload_sizes_mb:
        size = size_bytes(size_mb)

        async def work(size: int = size) -> LoadRun:
            run = LoadRun(concurrency=1)
            for _ in range(plan.upload_repeats):
                try:
                    task, sent, seconds = await session.upload_stream(size, "pdf_text")
                except (RequestFailed, httpx.HTTPError) as exc:
                    run.errors += 1
                    run.error_samples.append(str(exc)[:200])
                    continue
                run.latencies_s.append(seconds)
                run.bytes_moved += sent
                run.elapsed_s += seconds
                await session.wait_finished(task["id"], plan.job_timeout_s)
            return run

        run, memory = await measured(session, work())
        rows.append(
            row(
                "2 upload",
                "POST /api/upload (streamed)",
                size=f"{size / MB:.1f} MB",
                summary=run.summary(),
                unit="MB/s",
                memory=memory,
                note="; ".join(run.error_samples) or "latency = seconds per upload",
            )
        )
    return rows


# 3. Downloads ----------------------------------------------------------------------------


async def downloads(session: Session, plan: Plan) -> list[Row]:
    """Download a large original in full and in Range slices (the same FileResponse
    machinery as /api/download), and a result ZIP."""
    size = size_bytes(plan.download_mb)
    task, _, _ = await session.upload_stream(size, "pdf_text", filename="download.pdf")
    task = await session.wait_finished(task["id"], plan.job_timeout_s)
    total = int(task["file_size"])
    url = f"/api/files/{task['id']}/original"
    client = session.client
    label = f"{total / MB:.1f} MB"

    async def full(_: int) -> int:
        received = 0
        async with client.stream("GET", url) as response:
            expect(response)
            async for chunk in response.aiter_raw():
                received += len(chunk)
        if received != total:
            raise RequestFailed(f"got {received} of {total} bytes")
        return received

    slice_bytes = size_bytes(plan.range_slice_mb)
    slices = [
        (start, min(start + slice_bytes, total) - 1) for start in range(0, total, slice_bytes)
    ]

    async def ranged(number: int) -> int:
        first, last = slices[number % len(slices)]
        received = 0
        headers = {"Range": f"bytes={first}-{last}"}
        async with client.stream("GET", url, headers=headers) as response:
            expect(response, 206)
            async for chunk in response.aiter_raw():
                received += len(chunk)
        if received != last - first + 1:
            raise RequestFailed(f"got {received} of {last - first + 1} bytes")
        return received

    rows = []
    run, memory = await measured(
        session, run_load(full, requests=plan.download_repeats, concurrency=1)
    )
    rows.append(
        row(
            "3 download",
            "GET /api/files/{id}/original (full)",
            size=label,
            summary=run.summary(),
            unit="MB/s",
            memory=memory,
            note="; ".join(run.error_samples) or "latency = seconds per full download",
        )
    )
    run, memory = await measured(
        session,
        run_load(ranged, requests=len(slices), concurrency=plan.range_concurrency),
    )
    rows.append(
        row(
            "3 download",
            "GET /api/files/{id}/original (Range)",
            size=f"{len(slices)}×{slice_bytes / MB:.1f} MB",
            summary=run.summary(),
            unit="MB/s",
            memory=memory,
            note="; ".join(run.error_samples) or "206 slices covering the whole file",
        )
    )
    if task["status"] == "completed":
        zip_url = f"/api/download/{task['id']}"
        zip_size = len(expect(await client.get(zip_url)).content)

        async def result_zip(_: int) -> int:
            return len(expect(await client.get(zip_url)).content)

        run, memory = await measured(
            session, run_load(result_zip, requests=50, concurrency=8, max_seconds=3)
        )
        rows.append(
            row(
                "3 download",
                "GET /api/download/{id} (result ZIP)",
                size=f"{zip_size / 1024:.1f} KB",
                summary=run.summary(),
                memory=memory,
                note="; ".join(run.error_samples)
                or "the ZIP of a 1-page result; large ZIPs would need a large result",
            )
        )
    return rows


# 4. Event-loop health under load ---------------------------------------------------------


class HealthProbe:
    """GET /health every `interval_s` from its own thread (own connection, blocking
    client), so the probe's timing does not depend on the load generator's loop."""

    def __init__(self, base_url: str, interval_s: float = 0.01) -> None:
        self.base_url = base_url
        self.interval_s = interval_s
        self.latencies_s: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.elapsed_s = 0.0

    def _run(self) -> None:
        started = time.perf_counter()
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self._stop.is_set():
                begin = time.perf_counter()
                try:
                    ok = client.get("/health").status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    self.latencies_s.append(time.perf_counter() - begin)
                else:
                    self.errors += 1
                self._stop.wait(self.interval_s)
        self.elapsed_s = time.perf_counter() - started

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> Summary:
        return summarize(
            self.latencies_s, errors=self.errors, concurrency=1, elapsed_s=self.elapsed_s
        )


async def loop_health(session: Session, plan: Plan) -> list[Row]:
    """/health latency idle, then while large uploads stream in and conversions run."""
    server = session.server
    rows = []
    before = server.reset_peaks()
    with HealthProbe(server.base_url) as idle:
        await asyncio.sleep(plan.health_idle_s)
    rows.append(
        row(
            "4 loop health",
            "GET /health (idle)",
            summary=idle.summary(),
            memory=(before, server.memory()),
            note="probe every 10 ms from its own thread",
        )
    )

    engine = "local" if engine_available("local") else "pdf_text"
    pages = plan.health_scan_pages if engine == "local" else plan.health_job_pages
    make = scanned_pdf if engine == "local" else text_pdf
    documents = [make(pages, next_seed()) for _ in range(plan.health_jobs)]
    size = size_bytes(plan.health_upload_mb)
    before = server.reset_peaks()
    started = time.perf_counter()
    with HealthProbe(server.base_url) as probe:
        jobs = [await session.upload_bytes(doc, "job.pdf", engine) for doc in documents]
        jobs_done = asyncio.ensure_future(
            asyncio.gather(*(session.wait_finished(job["id"], plan.job_timeout_s) for job in jobs))
        )

        async def upload_until_jobs_done() -> tuple[int, int]:
            """Upload again and again until the jobs are done; (uploads, bytes sent). The
            uploads are deleted at once (no conversion backlog, no disk filling up): the
            jobs are the conversion load measured."""
            count = sent = 0
            while not jobs_done.done() or count == 0:
                task, moved, _ = await session.upload_stream(size, "pdf_text")
                await session.delete(task["id"])
                count, sent = count + 1, sent + moved
            return count, sent

        streams = await asyncio.gather(
            *(upload_until_jobs_done() for _ in range(plan.health_uploads))
        )
        finished = await jobs_done
        jobs_s = time.perf_counter() - started
    window = probe.elapsed_s
    uploads = sum(count for count, _ in streams)
    sent = sum(moved for _, moved in streams)
    statuses = sorted({task["status"] for task in finished})
    summary = probe.summary()
    target = "meets" if summary.p99_ms is not None and summary.p99_ms < 50 else "misses"
    rows.append(
        row(
            "4 loop health",
            "GET /health (under load)",
            size=f"{plan.health_uploads}×{size / MB:.0f} MB streams + {plan.health_jobs} jobs",
            summary=summary,
            memory=(before, server.memory()),
            note=(
                f"{target} p99<50 ms; {plan.health_jobs} {engine} jobs of {pages} pages "
                f"({', '.join(statuses)}) done in {jobs_s:.1f} s while {plan.health_uploads} "
                f"upload streams sent {uploads} files, {sent / MB / window:.0f} MB/s in all"
                + ("" if engine == "local" else "; engine local not available: pdf_text jobs")
            ),
            engine=engine,
            uploads=uploads,
        )
    )
    return rows


# 5. Conversion throughput ----------------------------------------------------------------


async def _throughput(
    session: Session, plan: Plan, name: str, engine: str, pages: int, make: Callable[[int], bytes]
) -> Row:
    server = session.server
    before = server.reset_peaks()
    run = LoadRun(concurrency=1)
    statuses = []
    for _ in range(plan.throughput_repeats):
        document = make(next_seed())
        begin = time.perf_counter()
        task = await session.upload_bytes(document, f"{engine}.pdf", engine)
        task = await session.wait_finished(task["id"], plan.job_timeout_s)
        seconds = time.perf_counter() - begin
        statuses.append(task["status"])
        if task["status"] == "completed":
            run.latencies_s.append(seconds)
            run.elapsed_s += seconds
        else:
            run.errors += 1
            run.error_samples.append(str(task.get("error_message"))[:160])
    summary = run.summary()
    done_pages = pages * len(run.latencies_s)
    return row(
        "5 conversion",
        name,
        size=f"{pages} pages",
        summary=summary,
        rate=round(done_pages / run.elapsed_s, 2) if run.elapsed_s else None,
        unit="pages/s",
        memory=(before, server.memory()),
        note="; ".join(run.error_samples) or "upload to completed, sequential; latency per doc",
        engine=engine,
    )


async def conversion(session: Session, plan: Plan) -> list[Row]:
    """Pages per second, end to end through the API, for a born-digital PDF (pdf_text)
    and a scanned one (local OCR)."""
    rows = [
        await _throughput(
            session,
            plan,
            "born-digital PDF (pdf_text)",
            "pdf_text",
            plan.text_pages,
            lambda seed: text_pdf(plan.text_pages, seed),
        )
    ]
    name = "scanned PDF (local OCR)"
    if not engine_available("local"):
        rows.append(not_available("5 conversion", name, "n/a (engine not available)"))
        return rows
    # The first OCR job of each worker loads the models: one job per worker at once,
    # measured apart as the cold start.
    begin = time.perf_counter()
    warm = await asyncio.gather(
        *(
            session.upload_bytes(scanned_pdf(1, next_seed()), "warm.pdf", "local")
            for _ in range(ENGINE_WORKERS)
        )
    )
    for task in warm:
        await session.wait_finished(task["id"], plan.job_timeout_s)
    cold = time.perf_counter() - begin
    result = await _throughput(
        session,
        plan,
        name,
        "local",
        plan.scan_pages,
        lambda seed: scanned_pdf(plan.scan_pages, seed),
    )
    result["note"] += (
        f"; cold start ({ENGINE_WORKERS} 1-page jobs at once, models loading) {cold:.1f} s"
    )
    rows.append(result)
    return rows


# 6. Translation and WebSocket fan-out ----------------------------------------------------


def _missing(response: httpx.Response) -> str | None:
    """Why a feature cannot be measured on this build, or None when it answered."""
    if response.status_code == 404:
        return f"n/a: {response.request.url.path} answers 404 (not built on this branch yet)"
    if response.status_code >= 400:
        return f"n/a: HTTP {response.status_code}: {response.text[:160]}"
    return None


async def translation(session: Session, plan: Plan) -> list[Row]:
    """POST /api/mt/translate/batch of `translate_items` texts, translated by the LLM
    engine against the stand-in LLM (fixed latency per call); every batch new texts, so
    nothing comes from the cache."""
    name = f"POST /api/mt/translate/batch ({plan.translate_items} texts, stand-in LLM)"
    client = session.client

    def body(seed: int, count: int) -> dict[str, Any]:
        items = [
            {"index": i, "text": f"Sentence {seed}-{i}: the engine reads every page."}
            for i in range(count)
        ]
        return {"items": items, "source_lang": "en", "target_lang": "fr"}

    probe = await client.post("/api/mt/translate/batch", json=body(next_seed(), 1))
    reason = _missing(probe)
    if reason or session.llm is None:
        return [not_available("6 translation", name, reason or "n/a: no stand-in LLM")]
    session.llm.state.reset()

    async def batch(_: int) -> int:
        response = expect(
            await client.post(
                "/api/mt/translate/batch", json=body(next_seed(), plan.translate_items)
            )
        )
        data = response.json()
        results = data["results"]
        failed = [item for item in results if item.get("translated_text") is None]
        if len(results) != plan.translate_items or failed:
            raise RequestFailed(f"{len(failed)} of {len(results)} texts not translated")
        return len(response.content)

    run, memory = await measured(
        session, run_load(batch, requests=plan.translate_repeats, concurrency=1)
    )
    state = session.llm.state
    done = len(run.latencies_s) * plan.translate_items
    return [
        row(
            "6 translation",
            name,
            size=f"{plan.translate_items} texts",
            summary=run.summary(),
            rate=round(done / run.elapsed_s, 1) if run.elapsed_s else None,
            unit="texts/s",
            memory=memory,
            note="; ".join(run.error_samples)
            or (
                f"stand-in LLM {plan.llm_latency_s * 1000:.0f} ms per call; "
                f"{state.calls} upstream calls, at most {state.max_in_flight} at once; "
                "latency per batch"
            ),
        )
    ]


def _task_of(message: dict[str, Any]) -> tuple[str | None, str | None]:
    """(task id, status) an event is about; status only for task.updated."""
    task = message.get("task")
    if isinstance(task, dict):
        return task.get("id"), task.get("status")
    return message.get("task_id"), None


async def websocket_fanout(session: Session, plan: Plan) -> list[Row]:
    """`ws_clients` WebSockets of one user; `ws_uploads` uploads, one after another. Each
    client's first event about each upload is timed from the moment its upload began;
    every client must also see the task completed."""
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    name = f"WS /api/ws fan-out ({plan.ws_clients} clients)"
    url = session.server.base_url.replace("http://", "ws://", 1) + "/api/ws"
    headers = {"Authorization": session.client.headers["Authorization"]}

    async def open_socket() -> ClientConnection:
        return await connect(url, additional_headers=headers, open_timeout=30)

    try:
        first = await open_socket()
    except InvalidStatus as exc:
        status = exc.response.status_code
        return [not_available("6 websocket", name, f"n/a: /api/ws refused ({status}); not built")]
    except (InvalidHandshake, OSError) as exc:
        return [not_available("6 websocket", name, f"n/a: /api/ws: {exc}")]

    seen: dict[tuple[int, str], float] = {}
    completed: set[tuple[int, str]] = set()
    expected = plan.ws_clients * plan.ws_uploads
    all_completed = asyncio.Event()

    async def listen(number: int, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                message = json.loads(raw)
                task_id, status = _task_of(message)
                if task_id is None:
                    continue
                seen.setdefault((number, task_id), time.perf_counter())
                if status == "completed":
                    completed.add((number, task_id))
                    if len(completed) >= expected:
                        all_completed.set()
        except ConnectionClosed:
            return

    before = session.server.reset_peaks()
    sockets = [first, *await asyncio.gather(*(open_socket() for _ in range(plan.ws_clients - 1)))]
    listeners = [asyncio.create_task(listen(n, s)) for n, s in enumerate(sockets)]
    began: dict[str, float] = {}
    try:
        for _ in range(plan.ws_uploads):
            start = time.perf_counter()
            task = await session.upload_bytes(text_pdf(2, next_seed()), "ws.pdf", "pdf_text")
            began[task["id"]] = start
            await session.wait_finished(task["id"], plan.job_timeout_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_completed.wait(), 10)
    finally:
        for socket in sockets:
            await socket.close()
        await asyncio.gather(*listeners)
    after = session.server.memory()
    wanted = {(n, task_id) for n in range(len(sockets)) for task_id in began}
    latencies = [seen[key] - began[key[1]] for key in wanted if key in seen]
    missed = len(wanted - completed)
    run = LoadRun(concurrency=len(sockets), latencies_s=latencies, errors=missed)
    run.elapsed_s = 0.0
    summary = run.summary()
    return [
        row(
            "6 websocket",
            name,
            size=f"{plan.ws_uploads} uploads",
            summary=summary,
            rate=len(wanted) - missed,
            unit="deliveries",
            memory=(before, after),
            note=(
                "latency = upload start → a client's first event about it; err = clients "
                f"that never saw 'completed' ({missed} of {len(wanted)})"
            ),
        )
    ]


async def translation_and_websockets(session: Session, plan: Plan) -> list[Row]:
    return await translation(session, plan) + await websocket_fanout(session, plan)


SCENARIOS: dict[str, Callable[[Session, Plan], Awaitable[list[Row]]]] = {
    "1": task_routes,
    "2": uploads,
    "3": downloads,
    "4": loop_health,
    "5": conversion,
    "6": translation_and_websockets,
}
