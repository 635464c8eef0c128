"""The bulk path's shortcuts agree with the item-by-item code they stand in for (issue 22).

``check_ids``, ``parse_results`` and the batch engine each try a test done in C first and fall
back to their loop for anything unusual. Hypothesis feeds both the same input; the answers (or the
errors) must be the same.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tim_oa
from tim_oa import _answers, _bulk, _subscribers
from tim_oa._batch import ADD_REMOVE_CODES, RECALL_CODES, Status, run_batch
from tim_oa._errors import ValidationError

# Ids near every rule: empty, 32 and 33 bytes, non-ASCII (2 to 4 UTF-8 bytes), a lone surrogate,
# duplicates (few distinct letters), and things that are not ids at all.
TEXT = st.text(alphabet=st.sampled_from("ab\u00e9\u65e5\U0001f600\ud800 "), max_size=34)
ID = st.one_of(
    TEXT,
    st.from_regex(r"[a-z]{30,34}", fullmatch=True),
    st.sampled_from(["a", "b", "a" * 32, "a" * 33]),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=1),
)


def slow_check_ids(values: list[Any], invalid: Any) -> Any:
    """``check_ids`` with its shortcut off: every id through ``check_user_id``."""

    def check(value: Any, arg: str) -> str:
        return tim_oa.check_user_id(value, arg)

    return _bulk.check_ids(values, "user_ids", check, invalid=invalid)


def outcome(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        checked = fn(*args, **kw)
    except ValidationError as exc:
        return ("error", str(exc), exc.field)
    return (checked.order, checked.valid, {k: str(v) for k, v in checked.rejected.items()})


@settings(max_examples=400, deadline=None)
@given(st.lists(ID, max_size=12), st.sampled_from(["raise", "fail"]))
def test_check_ids_shortcut_agrees_with_the_per_id_check(values: list[Any], invalid: Any) -> None:
    fast = outcome(_bulk.check_ids, values, "user_ids", invalid=invalid)
    assert fast == outcome(slow_check_ids, values, invalid)


def test_check_ids_reads_a_generator_once() -> None:
    ids = (f"u{i}" for i in range(5))
    assert _bulk.check_ids(ids, "user_ids", invalid="raise").valid == [f"u{i}" for i in range(5)]
    bad = (x for x in ["u1", "", "u2"])
    with pytest.raises(ValidationError, match=r"user_ids\[1\]"):
        _bulk.check_ids(bad, "user_ids", invalid="raise")


ITEM = st.one_of(
    st.fixed_dictionaries(
        {
            "Subscriber_Account": st.sampled_from(["u1", "u2", "u3", "x"]),
            "Result": st.sampled_from([0, 1, 2]),
        }
    ),
    st.fixed_dictionaries(
        {
            "Subscriber_Account": st.one_of(st.sampled_from(["u1", "u2"]), st.integers()),
            "Result": st.one_of(st.integers(-1, 3), st.booleans(), st.none(), st.text(max_size=1)),
        }
    ),
    st.fixed_dictionaries({"Subscriber_Account": st.just("u1")}),
    st.just("u1"),
    st.just([1]),
    st.none(),
)


def parsed(items: list[Any], asked: list[str] | None, shortcut: bool) -> Any:
    saved = _subscribers._plain_results
    if not shortcut:
        _subscribers._plain_results = lambda items, asked: None
    try:
        return _subscribers.parse_results({"SubscriberList": items}, asked=asked)
    except tim_oa.MalformedResponseError as exc:
        return ("malformed", str(exc))
    finally:
        _subscribers._plain_results = saved


@settings(max_examples=400, deadline=None)
@given(
    st.lists(ITEM, max_size=8),
    st.one_of(st.none(), st.lists(st.sampled_from(["u1", "u2", "u3"]), max_size=3, unique=True)),
)
def test_parse_results_shortcut_agrees_with_the_loop(items: list[Any], asked: Any) -> None:
    assert parsed(items, asked, True) == parsed(items, asked, False)


def run(ids: list[str], answer: dict[str, int], codes: Any, shortcut: bool) -> Any:
    import anyio

    async def send(chunk: Any) -> dict[str, int]:
        return {k: answer[k] for k in chunk if k in answer}

    saved = _answers.record_plain
    if not shortcut:
        _answers.record_plain = lambda *args: False
    try:
        result = anyio.run(
            lambda: run_batch(ids, chunk_size=3, concurrency=2, send_chunk=send, code_status=codes)
        )
    finally:
        _answers.record_plain = saved
    return [(k, o.status, o.code, type(o.error).__name__) for k, o in result.outcomes.items()]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), unique=True, max_size=7),
    st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), st.integers(-1, 3)),
    st.sampled_from([ADD_REMOVE_CODES, RECALL_CODES, {0: Status.SUCCEEDED, 5: Status.SUCCEEDED}]),
)
def test_the_batch_shortcut_records_what_the_loop_records(
    ids: list[str], answer: dict[str, int], codes: Any
) -> None:
    assert run(ids, answer, codes, True) == run(ids, answer, codes, False)


# Ids the API accepts: any text without lone surrogates, quotes, backslashes and control
# characters included (the encoder must escape them as json.dumps does).
VALID_ID = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=8
).filter(lambda s: len(s.encode("utf-8")) <= 32)


@settings(max_examples=300, deadline=None)
@given(VALID_ID, st.lists(VALID_ID, max_size=6, unique=True))
def test_the_chunk_encoders_write_what_encode_body_writes(account: str, ids: list[str]) -> None:
    from tim_oa._wire import encode_body

    add = _subscribers.encode_add(account, ids)
    assert add == encode_body(_subscribers.build_add(account, ids))
    remove = _subscribers.encode_remove(account, ids)
    assert remove == encode_body(_subscribers.build_remove(account, ids))


def recorded_from_items(ids: list[str], items: list[Any], shortcuts: bool) -> Any:
    """Outcomes of a job whose every chunk is answered ``items`` (those of the chunk's ids)."""
    import anyio

    async def send(chunk: Any) -> Any:
        mine = [i for i in items if i["Subscriber_Account"] in chunk]
        return _subscribers.parse_results({"SubscriberList": mine}, asked=chunk)

    saved = _answers.record_plain, _subscribers._in_order
    if not shortcuts:
        _answers.record_plain = lambda *args: False
        _subscribers._in_order = lambda items, asked: None
    try:
        result = anyio.run(
            lambda: run_batch(
                ids, chunk_size=3, concurrency=2, send_chunk=send, code_status=ADD_REMOVE_CODES
            )
        )
    finally:
        _answers.record_plain, _subscribers._in_order = saved
    return [(k, o.status, o.code, type(o.error).__name__) for k, o in result.outcomes.items()]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from("abcdefg"), unique=True, max_size=7),
    st.lists(
        st.fixed_dictionaries(
            {"Subscriber_Account": st.sampled_from("abcdefg"), "Result": st.sampled_from([0, 1, 2])}
        ),
        max_size=9,
    ),
    st.booleans(),
)
def test_an_answer_in_the_chunks_order_is_recorded_as_the_loop_records_it(
    ids: list[str], items: list[dict[str, Any]], in_order: bool
) -> None:
    if in_order:  # the usual answer: each id of the chunk once, in the order sent
        codes = {i["Subscriber_Account"]: i["Result"] for i in items}
        items = [{"Subscriber_Account": k, "Result": codes.get(k, 1)} for k in ids]
    assert recorded_from_items(ids, items, True) == recorded_from_items(ids, items, False)


def test_an_in_order_answer_is_a_mapping_of_the_chunk() -> None:
    from tim_oa._answers import InOrder

    chunk = ["u1", "u2", "u3"]
    items = [{"Subscriber_Account": k, "Result": r} for k, r in zip(chunk, [1, 2, 0], strict=True)]
    answer = _subscribers.parse_results({"SubscriberList": items}, asked=chunk)
    assert type(answer) is InOrder and answer.ids is chunk
    assert answer == {"u1": 1, "u2": 2, "u3": 0}
    assert list(answer) == chunk and len(answer) == 3
    assert answer.get("u2") == 2 and answer.get("nobody") is None
    assert "u3" in answer and "u4" not in answer
    assert repr(answer) == "InOrder({'u1': 1, 'u2': 2, 'u3': 0})"
    # Out of order, a stranger or one left out: the general parser's dict.
    for changed in (
        items[::-1],
        [*items[:2], {"Subscriber_Account": "u9", "Result": 1}],
        items[:2],
    ):
        parsed = _subscribers.parse_results({"SubscriberList": changed}, asked=chunk)
        assert type(parsed) is dict
    # A bool is not a Result (True == 1): the loop names it.
    with pytest.raises(tim_oa.MalformedResponseError, match=r"\[2\]\.Result"):
        _subscribers.parse_results(
            {"SubscriberList": [*items[:2], {"Subscriber_Account": "u3", "Result": True}]},
            asked=chunk,
        )
