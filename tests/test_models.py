"""Models and names: exports to dicts and wire JSON, regions by name, enumerated wire integers."""

from __future__ import annotations

import json

import pytest

import tim_oa
from tim_oa import ImageElem, ImageFormat, ImageInfo, ImageType, MsgPriority, Region, TextElem
from tim_oa._converter import ShapeError, structure


def test_to_dict_and_to_wire_of_a_model() -> None:
    acct = tim_oa.SubscribedAccount(
        official_account="@TOA#_a",
        name="News",
        self_info=tim_oa.SelfInfo(subscribe_time=5),
    )
    as_dict = tim_oa.to_dict(acct)
    assert as_dict["official_account"] == "@TOA#_a"
    assert as_dict["self_info"] == {"subscribe_time": 5, "custom_string": None}
    assert as_dict["owner"] is None  # every field, None included
    assert tim_oa.to_wire(acct) == {
        "Official_Account": "@TOA#_a",
        "Name": "News",
        "SelfInfo": {"SubscribeTime": 5},
    }
    # The wire form reads back into the same model.
    assert structure(tim_oa.to_wire(acct), tim_oa.SubscribedAccount) == acct


def test_to_wire_of_messages_elements_and_enums_is_json() -> None:
    message = tim_oa.Message(
        msg_key="1_1_1", body=({"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}},),
        priority=MsgPriority.HIGH,
    )  # fmt: skip
    wire = tim_oa.to_wire(message)
    assert wire["MsgPriority"] == 1 and type(wire["MsgPriority"]) is int
    assert wire["MsgBody"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]
    assert json.loads(json.dumps(wire)) == wire
    assert tim_oa.to_dict(message)["priority"] == 1
    assert tim_oa.to_wire(TextElem("hi")) == {
        "MsgType": "TIMTextElem",
        "MsgContent": {"Text": "hi"},
    }
    assert tim_oa.to_wire(tim_oa.OfflinePush(title="T", extra={"X": 1})) == {"Title": "T", "X": 1}
    with pytest.raises(TypeError, match="to_wire"):
        tim_oa.to_wire({"a": 1})
    with pytest.raises(TypeError, match="to_dict"):
        tim_oa.to_dict("text")


def test_outcomes_and_pages_export_as_dicts() -> None:
    outcome = tim_oa.Outcome("u1", tim_oa.Status.SUCCEEDED, 1)
    assert tim_oa.to_dict(outcome) == {"id": "u1", "status": "succeeded", "code": 1, "error": None}


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("singapore", Region.SINGAPORE),
        ("SINGAPORE", Region.SINGAPORE),
        (" Silicon-Valley ", Region.SILICON_VALLEY),
        ("silicon valley", Region.SILICON_VALLEY),
        ("silicon_valley", Region.SILICON_VALLEY),
        ("china", Region.CHINA),
    ],
)
def test_region_from_a_name(name: str, region: Region) -> None:
    assert Region(name) is region
    assert Region.from_name(name) is region


def test_region_names_match_the_cli() -> None:
    from tim_oa.cli._config import _region

    for region in Region:
        assert _region(region.name.lower(), "x") is Region.from_name(region.name.lower())


@pytest.mark.parametrize("bad", ["mars", "", "sgp", 5, None])
def test_an_unknown_region_lists_the_names(bad: object) -> None:
    with pytest.raises(ValueError, match="one of: china, singapore, seoul"):
        Region.from_name(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Region(bad)


def test_region_values_still_work() -> None:
    assert Region(Region.TOKYO.value) is Region.TOKYO


def test_image_enums_accept_ints_and_keep_unknown_values() -> None:
    info = ImageInfo(type=1, size=10, width=2, height=3, url="https://x/y.jpg")
    assert info.type is ImageType.ORIGINAL
    image = ImageElem(uuid="u", image_format=3, images=[info])
    assert image.image_format is ImageFormat.PNG
    assert ImageElem(uuid="u", image_format=ImageFormat.OTHER, images=[info]).image_format == 255
    assert ImageElem(uuid="u", image_format=9, images=[info]).image_format == 9  # stays an int
    wire = image.to_wire()["MsgContent"]
    assert wire["ImageFormat"] == 3 and type(wire["ImageFormat"]) is int
    assert type(wire["ImageInfoArray"][0]["Type"]) is int
    with pytest.raises(tim_oa.ValidationError):
        ImageInfo(type=True, size=10, width=2, height=3, url="u")


def test_history_priority_becomes_the_enum() -> None:
    message = structure({"MsgKey": "k", "MsgPriority": 4}, tim_oa.Message)
    assert message.priority is MsgPriority.LOWEST


def test_structure_checks_types_and_names_the_path() -> None:
    with pytest.raises(ShapeError, match=r"Subscriber\.SubscribeTime must be an int, got str"):
        structure({"Subscriber_Account": "u", "SubscribeTime": "1"}, tim_oa.Subscriber)
    with pytest.raises(ShapeError, match=r"SubscribedAccount\.SelfInfo\.SubscribeTime"):
        structure(
            {"Official_Account": "@TOA#_a", "SelfInfo": {"SubscribeTime": 1.5}},
            tim_oa.SubscribedAccount,
        )
    with pytest.raises(ShapeError, match="must be an object, got list"):
        structure([1], tim_oa.Subscriber)
    # Unknown keys are ignored; missing or null optional keys take the default.
    sub = structure({"Subscriber_Account": "u", "Future": 1, "MsgFlag": None}, tim_oa.Subscriber)
    assert sub == tim_oa.Subscriber("u")


def test_lazy_names_are_all_importable_and_listed() -> None:
    for name in tim_oa.__all__:
        assert getattr(tim_oa, name) is not None
    assert set(tim_oa.__all__) <= set(dir(tim_oa))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        tim_oa.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_type_checkers_see_every_lazy_name_and_no_module_getattr() -> None:
    """``tim_oa`` loads names lazily; checkers must still see each one and flag misspellings.

    A module-level ``__getattr__`` visible to mypy/pyright would make ``tim_oa.Sesion`` pass, so
    it must sit under ``if not TYPE_CHECKING``, and every lazy name needs a checker-only import.
    """
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(tim_oa))
    checker_imports: set[str] = set()
    visible_getattr = False
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            assert node.test.id == "TYPE_CHECKING"
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    checker_imports.update(alias.name for alias in inner.names)
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            visible_getattr = True
    assert not visible_getattr
    assert set(tim_oa._LAZY) <= checker_imports
    assert set(tim_oa.__all__) == {*tim_oa._LAZY, "__version__"}


def test_to_dict_makes_json_ready_plain_values() -> None:
    import json

    message = tim_oa.Message(
        msg_key="1_1_1", body=({"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}},),
        priority=MsgPriority.LOW,
    )  # fmt: skip
    as_dict = tim_oa.to_dict(message)
    assert as_dict["body"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]
    assert as_dict["priority"] == int(MsgPriority.LOW) and type(as_dict["priority"]) is int
    assert json.loads(json.dumps(as_dict)) == as_dict
    with pytest.raises(TypeError):
        tim_oa.to_dict({"not": "a model"})
