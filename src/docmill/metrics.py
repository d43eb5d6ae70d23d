"""Prometheus metrics: one registry per app, HTTP timings by route template, job figures.

`GET /metrics` serves them in the Prometheus text format.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "docmill_http_requests_total",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "docmill_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tasks = Gauge(
            "docmill_tasks", "Tasks by status (all users).", ["status"], registry=self.registry
        )
        self.jobs_running = Gauge(
            "docmill_jobs_running", "Conversions running in this process.", registry=self.registry
        )
        self.pages = Counter(
            "docmill_pages_converted_total",
            "Pages converted.",
            ["engine"],
            registry=self.registry,
        )
        self.conversions = Histogram(
            "docmill_conversion_seconds",
            "Engine time per document.",
            ["engine", "outcome"],
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
            registry=self.registry,
        )
        self.cache = Counter(
            "docmill_cache_total",
            "Cache look-ups by level and outcome.",
            ["level", "outcome"],
            registry=self.registry,
        )


class MetricsMiddleware:
    """Times every HTTP request and counts it under its route template (not its path,
    so task ids do not explode the label space)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
