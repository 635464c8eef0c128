"""Message elements: wire dicts, body normalisation, parsing back."""

from __future__ import annotations

import json
from typing import Any

import pytest

import tim_oa
from tim_oa import (
    CustomElem,
    FaceElem,
    FileElem,
    ImageElem,
    ImageInfo,
    LocationElem,
    OfflinePush,
    SoundElem,
    TextElem,
    ValidationError,
    VideoElem,
    parse_msg_body,
    to_msg_body,
)

IMAGE = ImageElem(
    uuid="1853095_D61040894AC3DE44CDFFFB3EC7EB720F",
    image_format=1,
    images=[
        ImageInfo(type=1, size=1553, width=195, height=344, url="https://e/orig.jpg"),
        ImageInfo(type=3, size=1553, width=195, height=344, url="https://e/thumb.jpg"),
    ],
)
VIDEO = VideoElem(
    video_url="https://e/v.mp4",
    video_uuid="5da38ba89d6521011e1f6f3fd6692e35",
    thumb_url="https://e/t.jpg",
    thumb_uuid="6edaffedef5150684510cf97957b7bc8",
    thumb_width=720,
    thumb_height=1280,
    video_size=1194603,
    video_second=5,
    video_format="mp4",
    thumb_size=13907,
    thumb_format="JPG",
)

# Each element and the exact wire dict it must produce (Tencent "Message Formats", 1047/33527).
GOLDEN = [
    (TextElem("hello world"), {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello world"}}),
    (
        CustomElem(data="message", desc="notification", ext="url", sound="dingdong.aiff"),
        {
            "MsgType": "TIMCustomElem",
            "MsgContent": {
                "Data": "message",
                "Desc": "notification",
                "Ext": "url",
                "Sound": "dingdong.aiff",
            },
        },
    ),
    (CustomElem(data="{}"), {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "{}"}}),
    (
        FaceElem(index=1, data="content"),
        {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "content"}},
    ),
    (FaceElem(index=0), {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 0}}),
    (
        LocationElem(latitude=29.340656774469956, longitude=116.77497920478824, desc="someinfo"),
        {
            "MsgType": "TIMLocationElem",
            "MsgContent": {
                "Desc": "someinfo",
                "Latitude": 29.340656774469956,
                "Longitude": 116.77497920478824,
            },
        },
    ),
    (
        IMAGE,
        {
            "MsgType": "TIMImageElem",
            "MsgContent": {
                "UUID": "1853095_D61040894AC3DE44CDFFFB3EC7EB720F",
                "ImageFormat": 1,
                "ImageInfoArray": [
                    {
                        "Type": 1,
                        "Size": 1553,
                        "Width": 195,
                        "Height": 344,
                        "URL": "https://e/orig.jpg",
                    },
                    {
                        "Type": 3,
                        "Size": 1553,
                        "Width": 195,
                        "Height": 344,
                        "URL": "https://e/thumb.jpg",
                    },
                ],
            },
        },
    ),
    (
        SoundElem(url="https://e/s.silk", uuid="u1", size=2224, second=3),
        {
            "MsgType": "TIMSoundElem",
            "MsgContent": {
                "Url": "https://e/s.silk",
                "UUID": "u1",
                "Size": 2224,
                "Second": 3,
                "Download_Flag": 2,
            },
        },
    ),
    (
        FileElem(url="https://e/f.txt", uuid="u2", file_size=1773552, file_name="file:f.txt"),
        {
            "MsgType": "TIMFileElem",
            "MsgContent": {
                "Url": "https://e/f.txt",
                "UUID": "u2",
                "FileSize": 1773552,
                "FileName": "file:f.txt",
                "Download_Flag": 2,
            },
        },
    ),
    (
        VIDEO,
        {
            "MsgType": "TIMVideoFileElem",
            "MsgContent": {
                "VideoUrl": "https://e/v.mp4",
                "VideoUUID": "5da38ba89d6521011e1f6f3fd6692e35",
                "VideoSize": 1194603,
                "VideoSecond": 5,
                "VideoFormat": "mp4",
                "VideoDownloadFlag": 2,
                "ThumbUrl": "https://e/t.jpg",
                "ThumbUUID": "6edaffedef5150684510cf97957b7bc8",
                "ThumbSize": 13907,
                "ThumbWidth": 720,
                "ThumbHeight": 1280,
                "ThumbFormat": "JPG",
                "ThumbDownloadFlag": 2,
            },
        },
    ),
]


@pytest.mark.parametrize(("element", "expected"), GOLDEN, ids=lambda v: type(v).__name__)
def test_element_wire_dict(element: tim_oa.Element, expected: dict[str, object]) -> None:
    assert element.to_wire() == expected
    # Unset optional keys are omitted, not sent as null.
    assert None not in element.to_wire()["MsgContent"].values()


@pytest.mark.parametrize(("element", "expected"), GOLDEN, ids=lambda v: type(v).__name__)
def test_element_parses_back(element: tim_oa.Element, expected: dict[str, object]) -> None:
    # Through JSON, as it would come back in a history answer.
    (parsed,) = parse_msg_body(json.loads(json.dumps([expected])))
    assert parsed == element


def test_parse_keeps_unknown_and_unreadable_elements_as_dicts() -> None:
    unknown = {"MsgType": "TIMRelayElem", "MsgContent": {"Title": "x"}}
    unreadable = {"MsgType": "TIMFaceElem", "MsgContent": {"Data": "no index"}}
    no_content = {"MsgType": "TIMTextElem"}
    text = {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi", "NewField": 1}}
    assert parse_msg_body([unknown, unreadable, no_content, text]) == (
        unknown,
        unreadable,
        no_content,
        TextElem("hi"),
    )


def test_message_elements_property() -> None:
    message = tim_oa.Message(
        msg_key="1_1_1",
        body=(
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}},
            {"MsgType": "TIMMergerElem", "MsgContent": {}},
        ),
    )
    assert message.elements == (
        TextElem("hi"),
        {"MsgType": "TIMMergerElem", "MsgContent": {}},
    )


def test_to_msg_body_accepts_every_form() -> None:
    text = {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}
    face = {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 2}}
    assert to_msg_body("hi") == [text]
    assert to_msg_body(TextElem("hi")) == [text]
    assert to_msg_body(text) == [text]
    assert to_msg_body(["hi", FaceElem(2)]) == [text, face]
    assert to_msg_body(e for e in [text, face]) == [text, face]
    # A raw element of a type tim_oa does not model passes through unchanged.
    other = {"MsgType": "TIMFutureElem", "MsgContent": {"A": [1]}}
    assert to_msg_body([other]) == [other]


def test_to_msg_body_copies_raw_dicts() -> None:
    raw: dict[str, Any] = {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}
    body = to_msg_body(raw)
    raw["MsgContent"]["Text"] = "changed"
    assert body[0]["MsgContent"]["Text"] == "hi"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "must not be empty"),
        ([], "at least one element"),
        ((), "at least one element"),
        (b"bytes", "not bytes"),
        (42, "not int"),
        ([42], r"body\[0\] must be a str"),
        ({"MsgType": "TIMTextElem"}, "exactly the keys"),
        ({"MsgType": "TIMTextElem", "MsgContent": {}, "Extra": 1}, "exactly the keys"),
        ({"MsgType": "", "MsgContent": {}}, "MsgType must be a non-empty str"),
        ({"MsgType": 1, "MsgContent": {}}, "MsgType must be a non-empty str"),
        ({"MsgType": "TIMTextElem", "MsgContent": "hi"}, "MsgContent must be a mapping"),
        ([CustomElem("a"), CustomElem("b")], "at most one TIMCustomElem"),
        (
            [CustomElem("a"), {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "b"}}],
            "at most one TIMCustomElem",
        ),
    ],
)
def test_to_msg_body_rejects(body: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        to_msg_body(body)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TextElem(5), r"TextElem.text must be a str, not int"),  # type: ignore[arg-type]
        (lambda: FaceElem(index="1"), r"FaceElem.index must be an int"),  # type: ignore[arg-type]
        (lambda: FaceElem(index=True), r"FaceElem.index must be an int, not bool"),
        (lambda: CustomElem(data="x", desc=3), r"CustomElem.desc must be a str"),  # type: ignore[arg-type]
        (lambda: LocationElem(latitude=91, longitude=0), r"latitude must be -90..90"),
        (lambda: LocationElem(latitude=0, longitude=-180.5), r"longitude must be -180..180"),
        (lambda: LocationElem(latitude=float("nan"), longitude=0), r"latitude must be"),
        (lambda: LocationElem(latitude="1", longitude=0), r"latitude must be a number"),  # type: ignore[arg-type]
        (lambda: ImageElem(uuid="u", image_format=1, images=[]), r"at least one size"),
        (lambda: ImageElem(uuid="u", image_format=1, images=[{"Type": 1}]), r"images\[0\]"),  # type: ignore[list-item]
        (lambda: SoundElem(url="u", uuid="v", download_flag=None), r"download_flag must be"),  # type: ignore[arg-type]
        (lambda: OfflinePush(push_flag=2), r"push_flag must be 0 or 1"),
        (lambda: OfflinePush(desc="a", extra={"Desc": "b"}), r"extra sets \['Desc'\]"),
        (lambda: OfflinePush(apns_info=["Sound"]), r"mappings with str keys"),  # type: ignore[arg-type]
    ],
)
def test_element_constructors_validate(make: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make()  # type: ignore[operator]


def test_offline_push_wire_dict() -> None:
    push = OfflinePush(
        push_flag=0,
        title="Hi",
        desc="offline text",
        ext='{"k":1}',
        android_info={"Sound": "android.mp3"},
        apns_info={"Sound": "apns.mp3", "BadgeMode": 1},
        extra={"VoIPPushFlag": 0},
    )
    assert push.to_wire() == {
        "VoIPPushFlag": 0,
        "PushFlag": 0,
        "Title": "Hi",
        "Desc": "offline text",
        "Ext": '{"k":1}',
        "AndroidInfo": {"Sound": "android.mp3"},
        "ApnsInfo": {"Sound": "apns.mp3", "BadgeMode": 1},
    }
    assert OfflinePush(push_flag=1).to_wire() == {"PushFlag": 1}
    assert OfflinePush().to_wire() == {}


def test_offline_push_copies_dicts() -> None:
    android = {"Sound": "a"}
    push = OfflinePush(android_info=android)
    android["Sound"] = "changed"
    assert push.to_wire() == {"AndroidInfo": {"Sound": "a"}}
