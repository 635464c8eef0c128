"""Message elements: the typed parts of a message body (``MsgBody``), and offline-push settings.

Each element is a frozen value class that knows its ``MsgType`` and names the wire key of each
field, as the models do. :func:`to_msg_body` turns whatever a caller hands to ``send_message``
into the wire list; :func:`parse_msg_body` turns a history message's body back into elements.
Field names follow Tencent's "Message Formats" page (1047/33527).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeAlias

import attrs

from ._converter import ShapeError, structure, wire_fields
from ._errors import ValidationError
from ._validation import INT, NUMBER, STR, in_range, non_empty, utf8_size

DIRECT_DOWNLOAD: int = 2
"""``Download_Flag`` value meaning "fetch straight from the URL"; the only value the API takes."""


def _key(wire_key: str) -> dict[str, str]:
    """Field metadata naming the wire key, read by :mod:`tim_oa._converter`."""
    return {"wire": wire_key}


class ImageType(enum.IntEnum):
    """``Type`` of an :class:`ImageInfo`: which size of the image it describes."""

    ORIGINAL = 1
    LARGE = 2
    THUMBNAIL = 3


class ImageFormat(enum.IntEnum):
    """``ImageFormat`` of an :class:`ImageElem`."""

    JPG = 1
    GIF = 2
    PNG = 3
    BMP = 4
    OTHER = 255


def _image_type(value: Any) -> Any:
    """An attrs converter: a known ``Type`` becomes its :class:`ImageType`; other values stay."""
    return ImageType(value) if type(value) is int and value in _IMAGE_TYPES else value


def _image_format(value: Any) -> Any:
    """An attrs converter: a known ``ImageFormat`` becomes its :class:`ImageFormat`."""
    return ImageFormat(value) if type(value) is int and value in _IMAGE_FORMATS else value


_IMAGE_TYPES = frozenset(int(m) for m in ImageType)
_IMAGE_FORMATS = frozenset(int(m) for m in ImageFormat)


@attrs.frozen
class Element:
    """Base class of the typed message elements; ``msg_type`` is the element's ``MsgType``."""

    msg_type: ClassVar[str] = ""

    def to_wire(self) -> dict[str, Any]:
        """The element as the API expects it: ``{"MsgType": ..., "MsgContent": {...}}``.

        Optional fields left as ``None`` are omitted from ``MsgContent``.
        """
        return {"MsgType": self.msg_type, "MsgContent": self._content()}

    def _content(self) -> dict[str, Any]:
        return wire_fields(self)


@attrs.frozen
class TextElem(Element):
    """A text element (``TIMTextElem``).

    Attributes:
        text: ``Text``; also the offline-push text when the recipient's app is in the background.
    """

    msg_type: ClassVar[str] = "TIMTextElem"
    text: str = attrs.field(metadata=_key("Text"), validator=[STR, non_empty])


@attrs.frozen
class CustomElem(Element):
    """An app-defined element (``TIMCustomElem``); a message may hold at most one.

    Attributes:
        data: ``Data``, the payload (often JSON text).
        desc: ``Desc``, the offline-push text.
        ext: ``Ext``, extra data passed through to APNs.
        sound: ``Sound``, the APNs sound file name.
    """

    msg_type: ClassVar[str] = "TIMCustomElem"
    data: str = attrs.field(metadata=_key("Data"), validator=STR)
    desc: str | None = attrs.field(default=None, metadata=_key("Desc"), validator=STR)
    ext: str | None = attrs.field(default=None, metadata=_key("Ext"), validator=STR)
    sound: str | None = attrs.field(default=None, metadata=_key("Sound"), validator=STR)


@attrs.frozen
class FaceElem(Element):
    """An emoji element (``TIMFaceElem``).

    Attributes:
        index: ``Index``, the app's emoji number.
        data: ``Data``, extra app data.
    """

    msg_type: ClassVar[str] = "TIMFaceElem"
    index: int = attrs.field(metadata=_key("Index"), validator=INT)
    data: str | None = attrs.field(default=None, metadata=_key("Data"), validator=STR)


@attrs.frozen
class LocationElem(Element):
    """A location element (``TIMLocationElem``).

    Attributes:
        latitude: ``Latitude``, -90..90.
        longitude: ``Longitude``, -180..180.
        desc: ``Desc``, a description of the place.
    """

    msg_type: ClassVar[str] = "TIMLocationElem"
    latitude: float = attrs.field(metadata=_key("Latitude"), validator=[NUMBER, in_range(-90, 90)])
    longitude: float = attrs.field(
        metadata=_key("Longitude"), validator=[NUMBER, in_range(-180, 180)]
    )
    desc: str | None = attrs.field(default=None, metadata=_key("Desc"), validator=STR)


@attrs.frozen
class ImageInfo:
    """One size of an image (an entry of ``ImageInfoArray``).

    Attributes:
        type: ``Type``, an :class:`ImageType` (1 original, 2 large, 3 thumbnail); an int is
            accepted and a known value becomes the enum member.
        size: ``Size`` in bytes.
        width: ``Width`` in pixels.
        height: ``Height`` in pixels.
        url: ``URL`` to download this size from.
    """

    type: ImageType | int = attrs.field(metadata=_key("Type"), converter=_image_type, validator=INT)
    size: int = attrs.field(metadata=_key("Size"), validator=INT)
    width: int = attrs.field(metadata=_key("Width"), validator=INT)
    height: int = attrs.field(metadata=_key("Height"), validator=INT)
    url: str = attrs.field(metadata=_key("URL"), validator=STR)


def _image_infos(values: Iterable[ImageInfo]) -> tuple[ImageInfo, ...]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ValidationError("ImageElem.images must be a list of ImageInfo", field="images")
    items = tuple(values)
    if not items:
        raise ValidationError("ImageElem.images must describe at least one size", field="images")
    for index, item in enumerate(items):
        if not isinstance(item, ImageInfo):
            raise ValidationError(
                f"ImageElem.images[{index}] must be an ImageInfo, not {type(item).__name__}",
                field="images",
            )
    return items


@attrs.frozen
class ImageElem(Element):
    """An image element (``TIMImageElem``); the API wants every size described.

    Attributes:
        uuid: ``UUID``, a unique key for the image (commonly its MD5).
        image_format: ``ImageFormat``, an :class:`ImageFormat` (1 JPG, 2 GIF, 3 PNG, 4 BMP, 255
            other); an int is accepted and a known value becomes the enum member.
        images: ``ImageInfoArray``, one :class:`ImageInfo` per size (original, large, thumbnail).
    """

    msg_type: ClassVar[str] = "TIMImageElem"
    uuid: str = attrs.field(metadata=_key("UUID"), validator=STR)
    image_format: ImageFormat | int = attrs.field(
        metadata=_key("ImageFormat"), converter=_image_format, validator=INT
    )
    images: tuple[ImageInfo, ...] = attrs.field(
        metadata=_key("ImageInfoArray"), converter=_image_infos
    )


@attrs.frozen
class SoundElem(Element):
    """A voice element (``TIMSoundElem``).

    Attributes:
        url: ``Url`` to download the audio from.
        uuid: ``UUID``, a unique key for the audio.
        size: ``Size`` in bytes.
        second: ``Second``, the duration.
        download_flag: ``Download_Flag``; 2 (download from ``Url``) is the only accepted value.
    """

    msg_type: ClassVar[str] = "TIMSoundElem"
    url: str = attrs.field(metadata=_key("Url"), validator=STR)
    uuid: str = attrs.field(metadata=_key("UUID"), validator=STR)
    size: int | None = attrs.field(default=None, metadata=_key("Size"), validator=INT)
    second: int | None = attrs.field(default=None, metadata=_key("Second"), validator=INT)
    download_flag: int = attrs.field(
        default=DIRECT_DOWNLOAD, metadata=_key("Download_Flag"), validator=INT
    )


@attrs.frozen
class FileElem(Element):
    """A file element (``TIMFileElem``).

    Attributes:
        url: ``Url`` to download the file from.
        uuid: ``UUID``, a unique key for the file.
        file_size: ``FileSize`` in bytes (a wrong size corrupts the file for recipients).
        file_name: ``FileName``.
        download_flag: ``Download_Flag``; 2 (download from ``Url``) is the only accepted value.
    """

    msg_type: ClassVar[str] = "TIMFileElem"
    url: str = attrs.field(metadata=_key("Url"), validator=STR)
    uuid: str = attrs.field(metadata=_key("UUID"), validator=STR)
    file_size: int | None = attrs.field(default=None, metadata=_key("FileSize"), validator=INT)
    file_name: str | None = attrs.field(default=None, metadata=_key("FileName"), validator=STR)
    download_flag: int = attrs.field(
        default=DIRECT_DOWNLOAD, metadata=_key("Download_Flag"), validator=INT
    )


@attrs.frozen
class VideoElem(Element):
    """A video element (``TIMVideoFileElem``), with its thumbnail.

    Attributes:
        video_url: ``VideoUrl``.
        video_uuid: ``VideoUUID``, a unique key for the video (commonly its MD5).
        thumb_url: ``ThumbUrl``.
        thumb_uuid: ``ThumbUUID``.
        thumb_width: ``ThumbWidth`` in pixels.
        thumb_height: ``ThumbHeight`` in pixels.
        video_size: ``VideoSize`` in bytes.
        video_second: ``VideoSecond``, the duration.
        video_format: ``VideoFormat``, e.g. ``"mp4"``.
        thumb_size: ``ThumbSize`` in bytes.
        thumb_format: ``ThumbFormat``, e.g. ``"JPG"``.
        video_download_flag: ``VideoDownloadFlag``; 2 is the only accepted value.
        thumb_download_flag: ``ThumbDownloadFlag``; 2 is the only accepted value.
    """

    msg_type: ClassVar[str] = "TIMVideoFileElem"
    video_url: str = attrs.field(metadata=_key("VideoUrl"), validator=STR)
    video_uuid: str = attrs.field(metadata=_key("VideoUUID"), validator=STR)
    thumb_url: str = attrs.field(metadata=_key("ThumbUrl"), validator=STR)
    thumb_uuid: str = attrs.field(metadata=_key("ThumbUUID"), validator=STR)
    thumb_width: int = attrs.field(metadata=_key("ThumbWidth"), validator=INT)
    thumb_height: int = attrs.field(metadata=_key("ThumbHeight"), validator=INT)
    video_size: int | None = attrs.field(default=None, metadata=_key("VideoSize"), validator=INT)
    video_second: int | None = attrs.field(
        default=None, metadata=_key("VideoSecond"), validator=INT
    )
    video_format: str | None = attrs.field(
        default=None, metadata=_key("VideoFormat"), validator=STR
    )
    thumb_size: int | None = attrs.field(default=None, metadata=_key("ThumbSize"), validator=INT)
    thumb_format: str | None = attrs.field(
        default=None, metadata=_key("ThumbFormat"), validator=STR
    )
    video_download_flag: int = attrs.field(
        default=DIRECT_DOWNLOAD, metadata=_key("VideoDownloadFlag"), validator=INT
    )
    thumb_download_flag: int = attrs.field(
        default=DIRECT_DOWNLOAD, metadata=_key("ThumbDownloadFlag"), validator=INT
    )


ELEMENT_TYPES: dict[str, type[Element]] = {
    cls.msg_type: cls
    for cls in (
        TextElem,
        CustomElem,
        FaceElem,
        LocationElem,
        ImageElem,
        SoundElem,
        FileElem,
        VideoElem,
    )
}
"""``MsgType`` -> element class, for every element type tim_oa models."""


def _optional_dict(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    # A private copy: a caller mutating their dict later must not change a built message.
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError("OfflinePush dict fields must be mappings with str keys")
    return dict(value)


@attrs.frozen
class OfflinePush:
    """Offline-push settings of a message (``OfflinePushInfo``); unset fields are omitted.

    Attributes:
        push_flag: ``PushFlag``: 0 push normally, 1 do not push.
        title: ``Title`` of the notification.
        desc: ``Desc``, the notification text; overrides the elements' own push text.
        ext: ``Ext``, pass-through data (vendors expect JSON text).
        android_info: ``AndroidInfo``, sent as given (e.g. ``{"Sound": "..."}``).
        apns_info: ``ApnsInfo``, sent as given (e.g. ``{"BadgeMode": 1, "Title": "..."}``).
        extra: Further ``OfflinePushInfo`` keys not modelled here, sent as given; a key that one
            of the fields above already sets is refused.
    """

    push_flag: int | None = attrs.field(default=None, metadata=_key("PushFlag"), validator=INT)
    title: str | None = attrs.field(default=None, metadata=_key("Title"), validator=STR)
    desc: str | None = attrs.field(default=None, metadata=_key("Desc"), validator=STR)
    ext: str | None = attrs.field(default=None, metadata=_key("Ext"), validator=STR)
    android_info: dict[str, Any] | None = attrs.field(
        default=None, metadata=_key("AndroidInfo"), converter=_optional_dict
    )
    apns_info: dict[str, Any] | None = attrs.field(
        default=None, metadata=_key("ApnsInfo"), converter=_optional_dict
    )
    extra: dict[str, Any] | None = attrs.field(default=None, converter=_optional_dict)

    def __attrs_post_init__(self) -> None:
        if self.push_flag not in (None, 0, 1):
            raise ValidationError(
                f"OfflinePush.push_flag must be 0 or 1, got {self.push_flag}",
                field="push_flag",
                limit=(0, 1),
            )
        # _modelled() reads only the wire fields (extra has no wire key).
        clash = sorted(set(self.extra) & set(self._modelled())) if self.extra else None
        if clash:
            raise ValidationError(
                f"OfflinePush.extra sets {clash}, which the named fields already set",
                field="extra",
            )

    def _modelled(self) -> dict[str, Any]:
        return wire_fields(self)

    def to_wire(self) -> dict[str, Any]:
        """The ``OfflinePushInfo`` object as sent."""
        return {**(self.extra or {}), **self._modelled()}


ElementLike: TypeAlias = str | Element | Mapping[str, Any]
"""One part of a message body: a ``str`` (text), an :class:`Element`, or a raw wire element."""

BodyLike: TypeAlias = ElementLike | Iterable[ElementLike]
"""What ``send_message`` accepts as a body: one part or an iterable of parts."""


def _raw_element(raw: Mapping[str, Any], arg: str) -> dict[str, Any]:
    keys = set(raw)
    if keys != {"MsgType", "MsgContent"}:
        raise ValidationError(
            f'{arg} must have exactly the keys "MsgType" and "MsgContent", '
            f"got {sorted(map(str, keys))}",
            field=arg,
        )
    msg_type, content = raw["MsgType"], raw["MsgContent"]
    if not isinstance(msg_type, str) or not msg_type:
        raise ValidationError(f"{arg}: MsgType must be a non-empty str", field=arg)
    if not isinstance(content, Mapping):
        raise ValidationError(f"{arg}: MsgContent must be a mapping (a JSON object)", field=arg)
    cls = ELEMENT_TYPES.get(msg_type)
    if cls is not None:
        # A known type obeys the rules of its typed element (a text has a text, ...); the dict
        # itself is sent as given, with any field the model does not know. Values the model
        # cannot even read are left to the JSON check of the whole body and to the server.
        try:
            structure(dict(content), cls, f"{arg}.MsgContent")
        except ShapeError:
            pass
        except ValidationError as exc:
            raise ValidationError(f"{arg}: {exc}", field=arg) from None
    return {"MsgType": msg_type, "MsgContent": dict(content)}


def _element(part: Any, arg: str) -> dict[str, Any]:
    if isinstance(part, str):
        if not part:
            raise ValidationError(f"{arg}: a text must not be empty", field=arg)
        utf8_size(part, arg)
        return TextElem(part).to_wire()
    if isinstance(part, Element):
        return part.to_wire()
    if isinstance(part, Mapping):
        return _raw_element(part, arg)
    raise ValidationError(
        f"{arg} must be a str, a message element or an element dict, not {type(part).__name__}",
        field=arg,
    )


def to_msg_body(body: BodyLike) -> list[dict[str, Any]]:
    """The ``MsgBody`` list for ``body``.

    ``body`` is a ``str`` (one text element), one :class:`Element`, a raw element dict
    ``{"MsgType": ..., "MsgContent": {...}}``, or an iterable of those. Raises
    :class:`ValidationError` for an empty body, an empty text, a part of another type, a
    malformed dict, or more than one ``TIMCustomElem`` (the API allows one per message).
    """
    if isinstance(body, (str, Element, Mapping)):
        if body == "":
            raise ValidationError("body text must not be empty", field="body")
        parts: list[Any] = [body]
        if isinstance(body, str):
            return [_element(body, "body")]
    elif isinstance(body, Iterable) and not isinstance(body, (bytes, bytearray)):
        parts = list(body)
    else:
        raise ValidationError(
            f"body must be a str, a message element, an element dict or a list of them, "
            f"not {type(body).__name__}",
            field="body",
        )
    if not parts:
        raise ValidationError("body must have at least one element", field="body")
    elements = [_element(part, f"body[{index}]") for index, part in enumerate(parts)]
    if sum(e["MsgType"] == CustomElem.msg_type for e in elements) > 1:
        raise ValidationError("a message may hold at most one TIMCustomElem", field="body")
    return elements


def parse_element(raw: Mapping[str, Any]) -> Element | dict[str, Any]:
    """One wire element as a typed :class:`Element`; unknown or unreadable ones stay dicts."""
    msg_type = raw.get("MsgType")
    cls = ELEMENT_TYPES.get(msg_type) if isinstance(msg_type, str) else None
    content = raw.get("MsgContent")
    if cls is not None and isinstance(content, Mapping):
        try:
            return structure(content, cls)
        except Exception:  # the server's shape differs from ours: hand back what it sent
            pass
    return dict(raw)


def parse_msg_body(body: Iterable[Mapping[str, Any]]) -> tuple[Element | dict[str, Any], ...]:
    """A ``MsgBody`` list as elements (see :func:`parse_element`)."""
    return tuple(parse_element(raw) for raw in body)
