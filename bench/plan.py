"""How big and how long each scenario is: the defaults, `--scale` and `--quick`."""

from __future__ import annotations

from dataclasses import dataclass, replace

MB = 1024 * 1024
MIN_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Plan:
    # 1. list / status / sync
    task_counts: tuple[int, ...] = (10, 100, 1000, 10000)
    concurrencies: tuple[int, ...] = (1, 32)
    api_requests: int = 500  # per cell, at most
    api_seconds: float = 5.0  # per cell: no new request starts after this
    # 2. uploads
    upload_sizes_mb: tuple[float, ...] = (1, 50)
    upload_repeats: int = 3
    # 3. downloads
    download_mb: float = 100
    download_repeats: int = 3
    range_slice_mb: float = 10
    range_concurrency: int = 4
    # 4. event-loop health
    health_uploads: int = 4
    health_upload_mb: float = 50
    health_jobs: int = 4
    health_job_pages: int = 60  # pdf_text jobs
    health_scan_pages: int = 2  # local (OCR) jobs
    health_idle_s: float = 2.0
    # 5. conversion throughput
    text_pages: int = 20
    scan_pages: int = 5
    throughput_repeats: int = 2
    job_timeout_s: float = 300.0
    # 6. translation (stand-in LLM) and WebSocket fan-out
    llm_latency_s: float = 0.1
    translate_items: int = 100
    translate_repeats: int = 3
    ws_clients: int = 100
    ws_uploads: int = 5

    def scaled(self, factor: float) -> Plan:
        """File sizes and request budgets multiplied by `factor` (task counts and page
        counts stay)."""
        return replace(
            self,
            api_requests=max(int(self.api_requests * factor), 4),
            upload_sizes_mb=tuple(size * factor for size in self.upload_sizes_mb),
            download_mb=self.download_mb * factor,
            range_slice_mb=self.range_slice_mb * factor,
            health_upload_mb=self.health_upload_mb * factor,
        )


def quick_plan() -> Plan:
    """A short run (well under a minute) for smoke tests and a first look."""
    return replace(
        Plan().scaled(0.05),
        task_counts=(10, 100),
        api_seconds=0.5,
        api_requests=64,
        upload_repeats=1,
        download_repeats=1,
        health_jobs=2,
        health_uploads=2,
        health_job_pages=5,
        health_scan_pages=1,
        health_idle_s=0.5,
        text_pages=5,
        scan_pages=1,
        throughput_repeats=1,
        job_timeout_s=120.0,
        translate_repeats=1,
        ws_clients=10,
        ws_uploads=2,
    )


def size_bytes(megabytes: float) -> int:
    """`megabytes` as bytes, never below 64 KiB."""
    return max(int(megabytes * MB), MIN_FILE_BYTES)
