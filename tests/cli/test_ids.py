"""Reading the ids of bulk jobs: lines, CSV, JSON lines, and errors by line number."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tim_oa.cli._exitcodes import InputError
from tim_oa.cli._ids import from_options, read_ids


def read(text: str | bytes, fmt: str = "auto", **options: object) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return read_ids("-", io.BytesIO(data), fmt=fmt, **options).ids  # type: ignore[arg-type]


def test_lines_skip_blanks_and_comments() -> None:
    assert read("# users\nu1\n\n  u2  \r\n#u3\nu4") == ["u1", "u2", "u4"]


def test_a_byte_order_mark_is_ignored() -> None:
    assert read(b"\xef\xbb\xbfu1\nu2\n") == ["u1", "u2"]


def test_lines_keep_duplicates_for_the_library_to_dedupe() -> None:
    assert read("a\nb\na\n") == ["a", "b", "a"]


def test_csv_first_column_without_header() -> None:
    assert read("u1,Alice\nu2,Bob\n", "csv") == ["u1", "u2"]


def test_csv_named_column_reads_the_header() -> None:
    text = 'name,user_id\nAlice,u1\n"Bob, Jr.",u2\n'
    assert read(text, "csv", column="user_id") == ["u1", "u2"]


def test_csv_header_flag_skips_the_header_row() -> None:
    assert read("user_id\nu1\n", "csv", header=True) == ["u1"]


def test_csv_unknown_column() -> None:
    with pytest.raises(InputError, match="line 1: no column 'uid'"):
        read("name,user_id\nAlice,u1\n", "csv", column="uid")


def test_csv_short_row_names_its_line() -> None:
    with pytest.raises(InputError, match="stdin line 3: the row has no column 2"):
        read("name,user_id\nAlice,u1\nBob\n", "csv", column="user_id")


def test_csv_unterminated_quote_names_its_line() -> None:
    with pytest.raises(InputError, match="stdin line 2: malformed CSV"):
        read('u1\n"u2\n', "csv")


def test_jsonl_strings_and_objects() -> None:
    text = '"u1"\n{"id": "u2", "status": "failed"}\n\n{"id": "u3"}\n'
    assert read(text, "jsonl") == ["u1", "u2", "u3"]


def test_jsonl_custom_key() -> None:
    assert read('{"user": "u1"}\n', "jsonl", column="user") == ["u1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"u1"\n{"id": \n', "stdin line 2: not valid JSON"),
        ('"u1"\n"u2"\n{"user": "u3"}\n', "stdin line 3: the object has no key 'id'"),
        ('"u1"\n42\n', "stdin line 2: expected a JSON string"),
        ('"u1"\n""\n', "stdin line 2: empty id"),
    ],
)
def test_jsonl_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read(text, "jsonl")


def test_inner_whitespace_is_malformed() -> None:
    with pytest.raises(InputError, match="stdin line 2: the id contains whitespace"):
        read("u1\nu2 Bob\n")


def test_control_characters_are_malformed() -> None:
    with pytest.raises(InputError, match="stdin line 1: the id contains a control character"):
        read("u\x001\n")


def test_invalid_utf8_names_the_line() -> None:
    with pytest.raises(InputError, match="stdin line 3: not valid UTF-8"):
        read(b"u1\nu2\nu\xff3\n")


def test_format_is_picked_by_suffix(tmp_path: Path) -> None:
    (tmp_path / "ids.csv").write_text("u1,x\n")
    (tmp_path / "ids.jsonl").write_text('{"id": "u2"}\n')
    stdin = io.BytesIO()
    assert read_ids(str(tmp_path / "ids.csv"), stdin).ids == ["u1"]
    assert read_ids(str(tmp_path / "ids.jsonl"), stdin).ids == ["u2"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_ids(str(tmp_path / "nope.txt"), io.BytesIO())


def test_column_needs_a_structured_format() -> None:
    with pytest.raises(InputError, match="--column needs"):
        read("u1\n", "lines", column="id")


def test_where_points_at_the_source_line(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text("# header\nu1\n\nu2\n")
    ids = read_ids(str(path), io.BytesIO())
    assert ids.where(1) == f"{path} line 4"


def test_ids_from_options() -> None:
    ids = from_options(["u1", " u2 "])
    assert ids.ids == ["u1", "u2"]
    assert ids.where(1) == "--id #2"
