"""Shared benchmark plumbing: command-line options, a scratch database, medians and result lines.

Every script prints `measure=<name> ours_ms=<median> baseline_ms=<median> ratio=<ours/baseline>`.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa


def options(description: str, default_rows: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=default_rows, help=f"table size (default {default_rows:,})")
    parser.add_argument("--database", default=None,
                        help="SQLAlchemy URL (default: a temporary SQLite file); PostgreSQL runs in a "
                             "scratch schema that is dropped afterwards")
    parser.add_argument("--repeat", type=int, default=200, help="timed runs per measure")
    return parser.parse_args()


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    """Yields a URL of an empty database: a temporary SQLite file or a fresh PostgreSQL schema."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            yield url or f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield sa.engine.make_url(url).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def time_ms(run: Callable[[], object], repeats: int) -> float:
    """Returns the median time of `repeats` calls of `run`, in milliseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return median_ms(samples)


def compare(name: str, ours: Callable[[int], object], baseline: Callable[[int], object], repeat: int,
            *, warmup: int = 5) -> tuple[float, float]:
    """Times `ours(i)` and `baseline(i)` alternately `repeat` times; prints and returns the medians."""
    for i in range(warmup):
        ours(i)
        baseline(i)
    ours_samples, baseline_samples = [], []
    for i in range(warmup, warmup + repeat):
        start = time.perf_counter()
        ours(i)
        ours_samples.append(time.perf_counter() - start)
        start = time.perf_counter()
        baseline(i)
        baseline_samples.append(time.perf_counter() - start)
    report(name, median_ms(ours_samples), median_ms(baseline_samples))
    return median_ms(ours_samples), median_ms(baseline_samples)


def report(name: str, ours_ms: float, baseline_ms: float) -> None:
    ratio = ours_ms / baseline_ms if baseline_ms else float("inf")
    print(f"measure={name} ours_ms={ours_ms:.3f} baseline_ms={baseline_ms:.3f} ratio={ratio:.2f}", flush=True)
