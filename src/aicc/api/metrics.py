"""Prometheus metrics: request counts and latencies by route, the center's capacity, and the controller's."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("aicc_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("aicc_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.capacity = Gauge("aicc_accelerators", "Accelerators in the inventory (CPU cores for CPU flavors)",
                              ["flavor"], registry=self.registry)
        from aicc.testbed.exporter import DeviceGauges

        self.devices = DeviceGauges(self.registry)
        """Accelerators on the server's host (DCGM names for NVIDIA), refreshed at most every few seconds."""
        from aicc.controller.metrics import ControllerMetrics

        self.controller = ControllerMetrics(self.registry)
        """The scheduling cycle, the queue, admissions, preemptions, waits (filled where the controller runs)."""

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            if scope.get("path", "").startswith("/api/v1/") and not path.startswith("/api/v1"):
                path = "/api/v1" + path  # routes of included routers carry their path relative to /api/v1
            method = scope.get("method", "")
            self.metrics.requests.labels(method, path, str(status)).inc()
            self.metrics.latency.labels(method, path).observe(time.perf_counter() - start)
