"""The capture worker's own Prometheus endpoint: snapshots taken and failed per commune, spool depth,
dropped jobs (the web's /metrics reads the database; these live only in the worker's memory)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class WorkerCollector:
    def __init__(self, worker):
        self.worker = worker

    def collect(self):
        w = self.worker
        snaps = CounterMetricFamily("camnet_worker_snapshots", "Snapshots by commune and outcome",
                                    labels=["commune_id", "outcome"])
        for (commune_id, outcome), count in sorted(w.by_commune.items()):
            snaps.add_metric([str(commune_id), outcome], count)
        yield snaps
        events = CounterMetricFamily("camnet_worker_events", "Worker events (dropped, skipped, spooled ...)",
                                     labels=["event"])
        for name, count in sorted(w.stats.items()):
            if name != "owned":
                events.add_metric([name], count)
        yield events
        yield GaugeMetricFamily("camnet_worker_cameras_owned", "Cameras this worker owns",
                                value=w.stats.get("owned", 0))
        entries = sum(1 for _ in w.spool.dir.glob("*.json"))  # complete entries, without reading them
        yield GaugeMetricFamily("camnet_worker_spool_depth", "Snapshots waiting in the local spool", value=entries)


def serve_metrics(worker, port: int) -> None:
    registry = CollectorRegistry()
    registry.register(WorkerCollector(worker))
    # all interfaces: Prometheus scrapes the pod from inside the cluster
    start_http_server(port, addr="0.0.0.0", registry=registry)  # nosec B104
