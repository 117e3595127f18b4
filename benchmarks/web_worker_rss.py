"""Web worker memory and page rate: one gunicorn worker serving the demo, as a user would use it.

    .venv/bin/python benchmarks/web_worker_rss.py [N]        (default N = 300 rounds)

Starts `vein2vein serve` (gunicorn, 1 worker) on a fresh SQLite demo in a temporary directory,
logs in as the QA reviewer and requests, N times each: the dashboard, the audit trail, a site
page with its signatures, and the API list of audit events. Prints pages/s for those and for
the /health/ endpoint (no database, no template) measured in the same run, their ratio, and the
worker's peak RSS (VmHWM) against the 300 MB budget.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
PORT = int(os.environ.get("BENCH_PORT", "8799"))
BASE = f"http://127.0.0.1:{PORT}"


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "vein2vein"), *args], env=env, check=True, capture_output=True)


def _worker_peak_rss_mb(master_pid: int) -> float:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            peaks.append(int(match.group(1)) / 1024)
    return max(peaks)


def _rate(opener: urllib.request.OpenerDirector, urls: list[str], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        for url in urls:
            with opener.open(BASE + url, timeout=30) as response:
                assert response.status == 200, url
                response.read()
    return n * len(urls) / (time.perf_counter() - start)


def main(n: int) -> None:
    tmp = tempfile.mkdtemp(prefix="v2v-web-")
    env = {**os.environ, "VEIN2VEIN_DATA_DIR": tmp, "SECRET_KEY": "bench-" + "x" * 50}
    env.pop("DATABASE_URL", None)
    _run(["migrate", "-v", "0"], env)
    _run(["demo"], env)
    server = subprocess.Popen(
        [str(BIN / "vein2vein"), "serve", "--bind", f"127.0.0.1:{PORT}", "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        for _ in range(100):
            try:
                opener.open(BASE + "/health/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        page = opener.open(BASE + "/accounts/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = urllib.parse.urlencode(
            {"username": "qa", "password": "Vein2vein-demo!", "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(BASE + "/accounts/login/", data=form)
        request.add_header("Referer", BASE + "/accounts/login/")
        opener.open(request).read()
        pages = ["/", "/audit/", "/sites/1/", "/api/v1/audit/events?limit=50"]
        _rate(opener, pages, 5)  # warm up
        pages_per_s = _rate(opener, pages, n)
        health_per_s = _rate(opener, ["/health/"], n * len(pages))
        rss = _worker_peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"requests: {n} rounds of {len(pages)} pages as the QA reviewer, 1 gunicorn worker")
    print(f"pages (dashboard, audit trail, site + signatures, API): {pages_per_s:,.0f} req/s")
    print(f"/health/ (no database, no template):                    {health_per_s:,.0f} req/s")
    print(f"ratio health / pages: {health_per_s / pages_per_s:.1f}x")
    print(f"web worker peak RSS: {rss:.0f} MB (budget 300 MB)")
    if rss >= 300:
        sys.exit("web worker exceeded 300 MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
