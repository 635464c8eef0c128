"""Structuring a 200-item subscriber page: tim_oa's generated reader and cattrs's, side by side.

``python -m bench.structure_cattrs`` prints the median time per page of each, measured in
alternation in one process (so both see the same machine load). The cattrs converter is set up
the way issue 18 describes: ``make_dict_structure_fn`` with rename overrides to the wire keys,
strict hooks for ``str``, ``int`` and their Optional forms (no coercion: ``"1"`` is not an int),
and ``detailed_validation=False``. Both refuse the same wrong types; only tim_oa's names the
field path in its error.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn, override

from tim_oa._converter import structure_list
from tim_oa._models import Subscriber

PAGE = [
    {
        "Subscriber_Account": f"user{i:06d}",
        "SubscribeTime": 1_700_000_000 + i,
        "CustomString": "" if i % 3 else f"tag-{i}",
        "MsgFlag": "AcceptAndNotify",
        "LastSendMsgTime": 1_700_000_500 + i,
    }
    for i in range(200)
]


def _strict(kind: type) -> Any:
    def hook(value: Any, _: Any) -> Any:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


def _strict_optional(kind: type) -> Any:
    def hook(value: Any, _: Any) -> Any:
        if value is not None and type(value) is not kind:
            raise TypeError(f"expected {kind.__name__} or null, got {type(value).__name__}")
        return value

    return hook


def cattrs_reader() -> Any:
    """A cattrs structure function for ``Subscriber`` with tim_oa's strictness."""
    converter = cattrs.Converter(detailed_validation=False)
    converter.register_structure_hook(str, _strict(str))
    converter.register_structure_hook(int, _strict(int))
    converter.register_structure_hook(str | None, _strict_optional(str))
    converter.register_structure_hook(int | None, _strict_optional(int))
    renames = {
        "user_id": "Subscriber_Account",
        "subscribe_time": "SubscribeTime",
        "custom_string": "CustomString",
        "msg_flag": "MsgFlag",
        "last_send_msg_time": "LastSendMsgTime",
    }
    fn = make_dict_structure_fn(
        Subscriber,
        converter,
        _cattrs_detailed_validation=False,
        **{name: override(rename=wire) for name, wire in renames.items()},  # type: ignore[arg-type]
    )
    return lambda item: fn(item, Subscriber)


def measure(rounds: int = 2000, repeats: int = 15) -> dict[str, float]:
    """Median microseconds per 200-item page for each reader."""
    read = cattrs_reader()

    def ours() -> tuple[Subscriber, ...]:
        return structure_list(PAGE, Subscriber, "SubscriberList", "get_subscriber_info")

    def theirs() -> tuple[Subscriber, ...]:
        return tuple([read(item) for item in PAGE])

    assert ours() == theirs()
    samples: dict[str, list[float]] = {"tim_oa generator": [], "cattrs gen": []}
    for _ in range(repeats):
        for name, fn in (("tim_oa generator", ours), ("cattrs gen", theirs)):
            start = time.perf_counter()
            for _ in range(rounds):
                fn()
            samples[name].append((time.perf_counter() - start) / rounds * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


if __name__ == "__main__":
    for name, micros in measure().items():
        print(f"{name:>18}: {micros:7.1f} µs per 200-item page")
