"""Time the HTML renderer on a large review: 30 KPIs, each with a 12-row breakdown.

    .venv/bin/python bench/bench_render.py [RUNS]

Prints milliseconds per render (first render, which compiles the templates,
reported apart) and the size of the document. CPU time is reported beside
wall time because a busy machine inflates the latter.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest_html import make_big_review  # noqa: E402

from kpi_cli.render_html import render_html  # noqa: E402


def main(runs: int = 20) -> None:
    review = make_big_review(30)
    start = time.perf_counter()
    html = render_html(review)
    first = (time.perf_counter() - start) * 1000

    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        render_html(review)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)

    print(
        f"KPIs: {len(review.kpis)}, breakdown rows: 12 each, size: {len(html) / 1024:.0f} KiB"
    )
    print(f"first render (compiles templates): {first:.1f} ms")
    print(
        f"per render over {runs} runs: median {statistics.median(times):.1f} ms, "
        f"min {min(times):.1f} ms, max {max(times):.1f} ms; "
        f"CPU median {statistics.median(cpu):.1f} ms"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
