"""Subscriber search latency of the web console (and the REST API under it) on 1M subscribers.

    .venv/bin/python bench/console_search.py [--rows 1000000] [--postgres | --url URL] [--repeat 30]

Loads `--rows` subscribers through the store's bulk path (once: the SQLite file and its key are kept in
var/bench/ for the next run; with --postgres a throwaway PostgreSQL server is started and loaded), serves
the API with the console on 127.0.0.1 like `sigcore run`, signs in and times whole HTTP requests: the
console's search page (HTML) by MSISDN and IMSI prefix, a deep keyset page, and the JSON the page is built
from; the API's APN filter, for an APN every subscriber has and for one in RARE has. In the same run, as a
reference: the API's offset paging to the same depth and the page with its total count (what a search
cost before keyset paging). Target: every console search under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from sigcore.api import create_app  # noqa: E402
from sigcore.api.service import ApiServer  # noqa: E402
from sigcore.store import Store, migrate  # noqa: E402
from sigcore.store.bulk import BulkImporter, NewSubscriber  # noqa: E402
from sigcore.store.tokens import Role, TokenRepository  # noqa: E402

CHUNK = 10_000
RARE = 50_000  # one subscriber in this many also has the APN "ims" (the APN filter's rare case)


def imsi(n: int) -> str:
    return f"00101{n:010d}"


def msisdn(n: int) -> str:
    return f"1555{n:07d}"


def load(store: Store, have: int, rows: int) -> None:
    importer = BulkImporter(store)
    ki, opc = os.urandom(16), os.urandom(16)
    started = time.perf_counter()
    for start in range(have, rows, CHUNK):
        importer.add([NewSubscriber(line=n, imsi=imsi(n), ki=ki, opc=opc, msisdn=msisdn(n),
                                    apns=("internet", "ims") if n % RARE == 7 else ("internet",))
                      for n in range(start, min(start + CHUNK, rows))])
        done = min(start + CHUNK, rows)
        print(f"\rloaded {done:,} / {rows:,} ({done / (time.perf_counter() - started):,.0f} rows/s)", end="")
    print()


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, bytes]]:
    if args.url:
        yield args.url, bytes.fromhex(os.environ["SIGCORE_BENCH_KEK"]) if "SIGCORE_BENCH_KEK" in os.environ \
            else os.urandom(32)
        return
    if args.postgres:
        from support.services import PostgresServer, _postgres_bindir

        bindir = _postgres_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL server binaries absent (apt-get install postgresql)")
        server = PostgresServer(bindir)
        server.start()
        try:
            yield server.url(), os.urandom(32)
        finally:
            server.stop()
        return
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    kek_file = folder / f"console-search-{args.rows}.kek"
    if not kek_file.exists():
        kek_file.write_text(os.urandom(32).hex())
    yield f"sqlite:///{folder / f'console-search-{args.rows}.sqlite'}", bytes.fromhex(kek_file.read_text())


class ServedApi:
    """The API (with the console) on its own event loop thread, as `sigcore run` serves it."""

    def __init__(self, store: Store) -> None:
        self.server = ApiServer(create_app(store), "127.0.0.1", 0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServedApi:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def sign_in(http: httpx.Client, token: str) -> None:
    page = http.get("/console/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    answer = http.post("/console/login", data={"csrf": found.group(1), "token": token})
    assert answer.status_code == 200 and "Subscribers" in answer.text, answer.status_code


def timed(http: httpx.Client, path: str, params: dict[str, str], repeat: int, expect: int | None) -> list[float]:
    samples = []
    for attempt in range(repeat + 2):
        started = time.perf_counter()
        answer = http.get(path, params=params)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200, (path, params, answer.status_code)
        if expect is not None:
            rows = answer.text.count('<tr>\n      <td><a href="/console/subscribers/') if path.startswith("/console") \
                else len(answer.json()["items"])
            assert rows == expect, (path, params, rows, expect)
        if attempt >= 2:  # two warm-up requests
            samples.append(elapsed * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", help="a database to use as is (loaded up to --rows; SIGCORE_BENCH_KEK=hex key)")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL server")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    n = args.rows
    with database(args) as (url, kek):
        migrate(url)
        with Store(url, kek) as store:
            have = store.count_subscribers()
            if have < n:
                load(store, have, n)
            if store.engine.dialect.name == "postgresql":
                with store.engine.connect() as conn:
                    conn.exec_driver_sql("ANALYZE")
            token = TokenRepository(store).create(Role.READ, "bench").secret
            with ServedApi(store) as api, httpx.Client(base_url=api.server.url, timeout=60,
                                                       follow_redirects=True) as http:
                sign_in(http, token)
                bearer = {"Authorization": f"Bearer {token}"}
                probe, deep = n * 7 // 9, n - 1000
                cases: list[tuple[str, str, dict[str, str], int | None, dict[str, str]]] = [
                    ("console: MSISDN, whole number (1 match)", "/console/subscribers",
                     {"q": msisdn(probe), "by": "msisdn"}, 1, {}),
                    ("console: MSISDN prefix, 1,000 matches", "/console/subscribers",
                     {"q": msisdn(probe)[:-3], "by": "msisdn"}, 25, {}),
                    (f"console: MSISDN prefix, all {n:,}", "/console/subscribers",
                     {"q": "1555", "by": "msisdn"}, 25, {}),
                    ("console: IMSI prefix, 100 matches", "/console/subscribers",
                     {"q": imsi(probe)[:-2], "by": "imsi"}, 25, {}),
                    (f"console: keyset page after row {deep:,}", "/console/subscribers",
                     {"q": "", "by": "imsi", "after": imsi(deep)}, 25, {}),
                    ("API JSON: MSISDN prefix, keyset, no count", "/api/v1/subscribers",
                     {"msisdn_prefix": msisdn(probe)[:-3], "order": "msisdn", "limit": "25", "with_total": "false"},
                     25, bearer),
                    (f"API JSON: keyset page after row {deep:,}", "/api/v1/subscribers",
                     {"after": imsi(deep), "limit": "25", "with_total": "false"}, 25, bearer),
                    ("API JSON: APN every subscriber has, no count", "/api/v1/subscribers",
                     {"apn": "internet", "limit": "25", "with_total": "false"}, 25, bearer),
                    (f"API JSON: APN 1 in {RARE:,} has, no count", "/api/v1/subscribers",
                     {"apn": "ims", "limit": "25", "with_total": "false"}, None, bearer),
                    (f"reference: offset page at row {deep:,}, no count", "/api/v1/subscribers",
                     {"offset": str(deep), "limit": "25", "with_total": "false"}, 25, bearer),
                    (f"reference: first page with total of all {n:,}", "/api/v1/subscribers",
                     {"msisdn_prefix": "1555", "limit": "25"}, 25, bearer),
                ]
                backend = store.engine.dialect.name
                print(f"{n:,} subscribers on {backend}; {args.repeat} requests each after 2 warm-up; ms")
                print(f"{'case':<52} {'median':>8} {'p95':>8} {'max':>8}")
                worst_console = 0.0
                for label, path, params, expect, headers in cases:
                    http.headers.update(headers)
                    samples = timed(http, path, params, args.repeat, expect)
                    for name in headers:
                        del http.headers[name]
                    p95 = statistics.quantiles(samples, n=20, method="inclusive")[-1]
                    if label.startswith("console"):
                        worst_console = max(worst_console, p95)
                    print(f"{label:<52} {statistics.median(samples):8.1f} {p95:8.1f} {max(samples):8.1f}")
                verdict = "meets" if worst_console < 200 else "misses"
                print(f"worst console p95: {worst_console:.1f} ms ({verdict} the 200 ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
