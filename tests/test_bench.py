"""The benchmark harness cannot rot: its server's models, its server over HTTP, a smoke run.

The full bench is not part of the suite (``python -m bench``); these checks take a few seconds.
"""

from __future__ import annotations

import concurrent.futures
import json
import pathlib
import subprocess
import sys
import time

import httpx
import pytest

from bench._harness import Measurement, Outcome, Row, select
from bench._ratemodels import FixedWindow, SlidingWindow, TokenBucket
from bench._server import server_process

ROOT = pathlib.Path(__file__).resolve().parent.parent
API = "/v4/official_account_open_http_svc/"


def test_sliding_window_refuses_the_call_over_rate_within_one_second() -> None:
    window = SlidingWindow(3)
    assert [window.allow(t) for t in (0.0, 0.1, 0.2)] == [True, True, True]
    assert window.allow(0.999) is False  # three accepted in the last second
    assert window.allow(1.0) is True  # the call at 0.0 has left the window
    assert window.allow(1.05) is False
    assert window.allow(1.1) is True


def test_sliding_window_does_not_count_refused_calls() -> None:
    window = SlidingWindow(1)
    assert window.allow(0.0) is True
    assert window.allow(0.5) is False
    assert window.allow(1.0) is True  # the refused call at 0.5 does not push the window


def test_token_bucket_starts_full_then_refills_at_rate() -> None:
    bucket = TokenBucket(10, burst=2)
    assert [bucket.allow(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.allow(0.05) is False  # half a token
    assert bucket.allow(0.1) is True
    assert bucket.allow(10.0) and bucket.allow(10.0) and not bucket.allow(10.0)


def test_fixed_window_resets_on_the_second() -> None:
    window = FixedWindow(2)
    assert [window.allow(t) for t in (5.0, 5.5, 5.99)] == [True, True, False]
    assert window.allow(6.0) is True


def test_select_by_id_prefix_and_glob() -> None:
    m = Measurement("m", lambda ctx: {})
    rows = [
        Row(i, i, "", [m], lambda ms: Outcome("")) for i in ("cpu.call.1", "cpu.call.10", "import")
    ]
    assert [r.id for r in select(rows, ["cpu.call.1"])] == ["cpu.call.1"]
    assert [r.id for r in select(rows, ["cpu"])] == ["cpu.call.1", "cpu.call.10"]
    assert [r.id for r in select(rows, ["*.10", "import"])] == ["cpu.call.10", "import"]
    assert select(rows, None) == rows


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    with server_process() as running:
        yield running


def test_server_answers_each_id_and_pages_to_the_end(server) -> None:  # type: ignore[no-untyped-def]
    server.configure(subscribers=450)
    with httpx.Client(base_url=server.base_url) as client:
        body = {"Official_Account": "@TOA#_a", "SubscriberList": [{"Subscriber_Account": "u1"}]}
        answer = client.post(API + "add_subscriber?usersig=x", json=body).json()
        assert answer["SubscriberList"] == [{"Subscriber_Account": "u1", "Result": 1}]
        cursor, seen = "", []
        while True:
            page = client.post(
                API + "get_subscriber_info",
                json={"Official_Account": "@TOA#_a", "Limit": 200, "Next": cursor},
            ).json()
            seen += [s["Subscriber_Account"] for s in page["SubscriberList"]]
            cursor = page["Next"]
            if not cursor:
                break
    assert len(seen) == len(set(seen)) == 450
    assert server.stats()["accepted"] == 4


def test_server_refuses_over_its_sliding_window_and_counts(server) -> None:  # type: ignore[no-untyped-def]
    server.configure(limit="sliding_window", rate=3)
    with httpx.Client(base_url=server.base_url) as client:
        codes = [client.post(API + "anything", json={}).json()["ErrorCode"] for _ in range(5)]
    assert codes == [0, 0, 0, 60007, 60007]
    stats = server.stats()
    assert (stats["accepted"], stats["refused"]) == (3, 2)
    assert stats["by_command"] == {"anything": [3, 2]}


def test_server_latency_delays_each_answer_without_blocking_others(server) -> None:  # type: ignore[no-untyped-def]
    server.configure(latency=0.5)

    def one() -> float:
        start = time.perf_counter()
        httpx.post(server.base_url + API + "anything", json={})
        return time.perf_counter() - start

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        each = list(pool.map(lambda _: one(), range(4)))
    assert min(each) >= 0.5
    assert time.perf_counter() - start < 1.9  # one after another takes 2 s at least
    assert server.stats()["max_in_flight"] == 4


def test_quick_run_prints_the_table_and_writes_json(tmp_path: pathlib.Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--rounds",
            "1",
            "--no-pin",
            "--only",
            "cpu.call.1,aiohttp.session.10",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| row"))
    assert "target" in header and "ratio" in header and "result" in header
    call_row = next(line for line in lines if line.startswith("| cpu.call.1 "))
    assert "µs/call" in call_row and ("pass" in call_row or "FAIL" in call_row)
    aio_row = next(line for line in lines if line.startswith("| aiohttp.session.10 "))
    assert any(word in aio_row for word in ("n/a", "pass", "FAIL"))
    document = json.loads((tmp_path / "latest.json").read_text())
    assert [row["id"] for row in document["rows"]] == ["cpu.call.1", "aiohttp.session.10"]
    ratio = document["rows"][0]["ratio"]
    assert isinstance(ratio, float) and ratio > 0


def test_a_row_whose_rounds_spread_is_measured_again_and_shows_its_load() -> None:
    from bench._harness import Context, format_table, run_rows, spread

    noisy = iter([100.0, 150.0, 100.0, 100.0, 100.0, 100.0])
    calm = Measurement("calm", lambda ctx: {"cpu_us": 100.0})
    wild = Measurement("wild", lambda ctx: {"cpu_us": next(noisy)})
    rows = [
        Row("a.calm", "calm", "", [calm], lambda ms: Outcome("x", 1.0, True)),
        Row("a.wild", "wild", "", [wild, calm], lambda ms: Outcome("y", 1.0, True)),
    ]
    ctx = Context(server=None, quick=True, stack=None)  # type: ignore[arg-type]
    results, raw = run_rows(rows, ctx, 2, lambda message: None)
    assert [r.reran for r in results] == [False, True]
    assert len(raw["samples"]["wild"]) == 4 and len(raw["samples"]["calm"]) == 4
    assert all("load_1m" in sample for sample in raw["samples"]["calm"])
    assert spread([{"v": 1.0}, {"v": 1.5}], "v") == pytest.approx(0.4)
    table = format_table(results)
    assert "load" in table.splitlines()[0] and "(rerun)" in table
