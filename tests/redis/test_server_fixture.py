"""The Redis fixture skips only when no redis-server exists and CI did not ask for Redis."""

from __future__ import annotations

import shutil

import pytest

from . import server


def test_missing_binary_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv(server.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no redis-server binary on PATH"):
        server.redis_server_binary()


def test_missing_binary_fails_when_redis_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv(server.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="TIM_OA_REQUIRE_REDIS is set"):
        server.redis_server_binary()


def test_a_started_server_answers_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    redis_server = server.started_server()
    try:
        assert server.ping(redis_server.port)
        redis_server.stop()
        assert not server.ping(redis_server.port)
        redis_server.start()  # the same port again
        assert server.ping(redis_server.port)
    finally:
        redis_server.close()
