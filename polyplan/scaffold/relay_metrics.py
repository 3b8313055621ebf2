"""What every outbox relay of a scaffolded application shares (issue 15): its counters (`Metrics`:
events relayed and parked, the lag of each, the outbox's pending count and the age of its oldest
event), their Prometheus text served over HTTP (`serve_metrics`, the relays' `--metrics-port`), and
the loop that runs a relay's batches with backoff and prints each one (`relay_loop`), and the
command line every relay's `main` runs (`relay_main`: its flags, its one-line failures, its exit codes).

Copied verbatim (without this docstring) into every scaffolded package as `relay_metrics.py`, so
the relational relay (`runtime.py`) and the document-store relay (`doc_outbox_runtime.py`) serve
the same metric names from one source; it imports only the standard library.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

S = TypeVar("S")  # a relay's stores (the package's settings.Stores)


@dataclass
class Metrics:
    """A relay's counters: events relayed and parked, the lag of each (from its write to its
    removal from the outbox) over a window, and the outbox as last measured."""

    window: int = 10_000
    started: float = field(default_factory=time.monotonic)
    events: int = 0
    parked: int = 0
    lags: list[float] = field(default_factory=list)
    pending: int = 0
    oldest: float = 0.0
    purged: int = 0  # documents deleted because their record expired in its store (no event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, lags: Sequence[float], parked: int = 0) -> None:
        """Count one batch's events (their lags in seconds) and how many of them were parked."""
        with self.lock:
            self.events += len(lags)
            self.parked += parked
            self.lags = [*self.lags, *lags][-self.window :]

    def record_purge(self, deleted: int) -> None:
        """Count the documents one purge deleted (their records expired without an event)."""
        with self.lock:
            self.purged += deleted

    def percentile(self, fraction: float) -> float:
        """The lag below which `fraction` of the window's events were relayed (nearest rank)."""
        with self.lock:
            ordered = sorted(self.lags)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]

    def rate(self) -> float:
        """Events relayed per second since the relay started."""
        return self.events / max(time.monotonic() - self.started, 1e-9)

    def summary(self) -> str:
        """The line the relay prints after each batch."""
        return (
            f"pending {self.pending}, lag {self.oldest:.3f} s; {self.rate():.1f} events/s, "
            f"lag p50 {self.percentile(0.5):.3f} p99 {self.percentile(0.99):.3f} s"
        )

    def exposition(self, relay: str) -> str:
        """The counters in the Prometheus text exposition format (version 0.0.4)."""
        label = '{relay="' + relay.replace("\\", "\\\\").replace('"', '\\"') + '"}'
        rows = [
            ("polyplan_relay_events_total", "counter", "Outbox events relayed.", self.events),
            ("polyplan_relay_parked_total", "counter", "Outbox events parked (dead letters).", self.parked),
            ("polyplan_relay_purged_total", "counter", "Expired documents purged from the indexes.", self.purged),
            ("polyplan_relay_events_per_second", "gauge", "Events relayed per second since start.", self.rate()),
            ("polyplan_relay_pending", "gauge", "Events pending in the outbox.", self.pending),
            ("polyplan_relay_lag_seconds", "gauge", "Age of the oldest pending event.", self.oldest),
            ("polyplan_relay_lag_p99_seconds", "gauge", "p99 of write-to-relayed lag.", self.percentile(0.99)),
        ]
        return "".join(
            f"# HELP {name} {text}\n# TYPE {name} {kind}\n{name}{label} {float(value)!r}\n"
            for name, kind, text, value in rows
        )


def serve_metrics(metrics: Metrics, relay: str, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve `GET /metrics` (Prometheus text) from a daemon thread; the server, to shut down.

    The standard library's HTTP server is enough for one scrape every few seconds, and it keeps
    the package free of a metrics client dependency; port 0 picks a free port (`server_address`).
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = metrics.exposition(relay).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # a scrape every few seconds is not worth a line

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="relay-metrics", daemon=True).start()
    return server


def relay_loop(
    step: Callable[[], int],
    measure: Callable[[], tuple[int, float]],
    retried: tuple[type[Exception], ...],
    metrics: Metrics,
    once: bool = False,
    report: Callable[[str], None] = print,
) -> int:
    """The loop every outbox relay runs: `step` relays one batch (its events), `measure` answers the
    pending count and the lag (kept in `metrics`, so a scrape sees them grow while writes wait);
    `retried` errors back off exponentially (0.1 s to 10 s). Prints each batch; until stopped or,
    with `once`, until nothing is pending. Returns the events handled."""
    handled = 0
    backoff = 0.1
    while True:
        try:
            count = step()
            metrics.pending, metrics.oldest = measure()
        except retried as error:
            why = (str(error).splitlines() or [type(error).__name__])[0]
            report(f"relay: {type(error).__name__}: {why}; retrying in {backoff:.1f} s")
            time.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
            continue
        backoff = 0.1
        handled += count
        if count:
            report(f"relay: applied {count} events; {metrics.summary()}")
        elif once and not metrics.pending:
            if handled:
                report(f"relay: caught up after {handled} events; {metrics.summary()}")
            return handled
        else:
            # Something pending but nothing cleared (a record written meanwhile, an entry not yet
            # claimable): look again soon; else idle.
            time.sleep(0.05 if metrics.pending else 0.2)


def relay_main(
    prog: str,
    description: str,
    batch_help: str,
    argv: list[str] | None,
    start: Callable[[], S],
    run: Callable[[S, int, bool, Metrics], object],
    failures: tuple[type[Exception], ...],
) -> int:
    """The command of an outbox relay, `python -m <prog> [--once] [--batch N] [--metrics-port P]`:
    `start` connects and installs what the relay needs (its stores), `run` relays (stores, batch,
    once, metrics). `prog` names the relay in its help, its metrics label and its error lines. A
    `failures` error (a setting, a store that never answered) prints one line and answers 2."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--once", action="store_true", help="stop when no event is pending")
    parser.add_argument("--batch", type=int, default=100, help=batch_help)
    parser.add_argument(
        "--metrics-port", type=int, default=0, help="serve Prometheus text on this port at /metrics (0: none)"
    )
    parser.add_argument("--metrics-host", default="127.0.0.1", help="the address the metrics are served on")
    options = parser.parse_args(argv)
    metrics = Metrics()
    try:
        stores = start()
        if options.metrics_port:
            serve_metrics(metrics, prog, options.metrics_port, options.metrics_host)
        run(stores, options.batch, options.once, metrics)
    except failures as error:
        print(f"{prog}: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2  # a setting or a store, not a crash: the load and check commands answer 2 too
    except KeyboardInterrupt:
        return 130
    return 0
