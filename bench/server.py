"""A `docmill serve` subprocess on a free port with its own temporary data folder, and
the memory of its process tree read from /proc."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

import docmill

STARTUP_TIMEOUT_S = 90


class ServerFailed(RuntimeError):
    """The server did not start or died."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status_kib(pid: int, field: str) -> int:
    """A `kB` field (VmHWM, VmRSS) of /proc/<pid>/status, in KiB; 0 when the process is
    gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size (VmHWM) in bytes; 0 when it is gone."""
    return _status_kib(pid, "VmHWM") * 1024


def rss_bytes(pid: int) -> int:
    """The process's current resident set size (VmRSS) in bytes; 0 when it is gone."""
    return _status_kib(pid, "VmRSS") * 1024


@dataclass(frozen=True)
class Memory:
    """One reading of the server's memory: its resident set now and its peak (VmHWM),
    alone and summed over it and all its children (engine workers, the multiprocessing
    manager). The tree's peak is a sum of peaks, an upper bound: the processes need not
    peak at the same moment. `peaks_reset` says whether the peaks were reset to the
    current RSS just before this reading (see BenchServer.reset_peaks)."""

    server_rss: int
    server_peak: int
    tree_rss: int
    tree_peak: int
    processes: int
    peaks_reset: bool = False


def growth(before: Memory, after: Memory) -> tuple[int, int]:
    """How far the peak RSS rose above the RSS at `before` (server, tree), in bytes. When
    the peaks could not be reset, the rise of the peak itself (which misses growth that
    stays under an older peak)."""
    if before.peaks_reset:
        rises = after.server_peak - before.server_rss, after.tree_peak - before.tree_rss
    else:
        rises = after.server_peak - before.server_peak, after.tree_peak - before.tree_peak
    # The kernel's RSS counters lag by a few pages per thread: a "fall" is noise.
    return max(rises[0], 0), max(rises[1], 0)


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux: `5` into clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class BenchServer:
    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{(self.data_dir / 'docmill.db').resolve()}"

    def _tree(self) -> list[int]:
        pid = self.process.pid
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess as exc:
            raise ServerFailed("the server process is gone") from exc
        return [pid, *(child.pid for child in children)]

    def memory(self, *, peaks_reset: bool = False) -> Memory:
        """The server's memory now. Raises ServerFailed when the server is gone."""
        pids = self._tree()
        return Memory(
            server_rss=rss_bytes(pids[0]),
            server_peak=peak_rss_bytes(pids[0]),
            tree_rss=sum(rss_bytes(pid) for pid in pids),
            tree_peak=sum(peak_rss_bytes(pid) for pid in pids),
            processes=len(pids),
            peaks_reset=peaks_reset,
        )

    def reset_peaks(self) -> Memory:
        """Reset the peak RSS of every process of the tree to its current RSS, so the next
        reading's peak is the peak since now; the reading right after the reset."""
        done = all([_reset_peak(pid) for pid in self._tree()])
        return self.memory(peaks_reset=done)

    def check_alive(self) -> None:
        """Raises ServerFailed when the server process has exited."""
        if self.process.poll() is not None:
            raise ServerFailed(f"docmill serve exited with {self.process.returncode}")


def _source_path() -> str:
    """The folder that holds the `docmill` package, so the child imports the same code."""
    return str(Path(docmill.__file__).resolve().parents[1])


@contextmanager
def bench_server(
    extra_env: dict[str, str] | None = None, keep_log: Path | None = None
) -> Iterator[BenchServer]:
    """`docmill serve` on embedded defaults with a fresh temporary data folder; yields
    once `/health` answers. The process group is stopped (SIGTERM, then SIGKILL), its log
    copied to `keep_log` (when given) and the folder removed on exit. Raises ServerFailed
    when it does not become healthy."""
    with tempfile.TemporaryDirectory(prefix="docmill-bench-") as folder:
        data_dir = Path(folder) / "data"
        env = {key: value for key, value in os.environ.items() if not key.startswith("DOCMILL_")}
        python_path = [_source_path(), *filter(None, [env.get("PYTHONPATH")])]
        env |= {
            "DOCMILL_DATA_DIR": str(data_dir),
            "PYTHONPATH": os.pathsep.join(python_path),
        } | (extra_env or {})
        port = free_port()
        log = (Path(folder) / "server.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "docmill.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=folder,  # no stray .env from the caller's folder
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = BenchServer(process, f"http://127.0.0.1:{port}", data_dir)
        try:
            _wait_healthy(server, Path(folder) / "server.log")
            yield server
        finally:
            _stop(process)
            log.close()
            if keep_log is not None:
                keep_log.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(folder) / "server.log", keep_log)


def _wait_healthy(server: BenchServer, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        with suppress(httpx.TransportError):
            if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                return
        if server.process.poll() is not None or time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise ServerFailed(f"docmill serve did not become healthy:\n{tail}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Engine workers may linger in the group after the server itself has gone.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
