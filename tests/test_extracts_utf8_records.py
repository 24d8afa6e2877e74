"""extracts.csv_file.read_utf8_records reads a UTF-8 CSV straight from its bytes: whenever it
gives records they are exactly those of the text's way (decode, then read_csv_records), and it
leaves every file it cannot read that way (not UTF-8, quoted, ragged, no header) to it."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from extracts.csv_file import read_csv_records, read_utf8_records
from extracts.guards import FileRefused
from extracts.text import TextDecodeError, decode_csv_bytes

# Pieces of a CSV file, hostile ones included: separators and every line end, quotes, a BOM,
# non-ASCII UTF-8, bytes that are not UTF-8 (Windows-1252's £ and é, a lone continuation byte),
# NUL and other controls, white space.
_PIECE = st.sampled_from(
    [
        b"a",
        b"id",
        b"42",
        b" ",
        b",",
        b",,",
        b"\n",
        b"\r\n",
        b"\r",
        b'"',
        b'""',
        "é".encode(),
        "€".encode(),
        b"\xa3",
        b"\xe9",
        b"\x80",
        b"\x00",
        b"\x01",
        b"\t",
        b"\xef\xbb\xbf",
    ]
)
_FILE = st.lists(_PIECE, max_size=24).map(b"".join)


def _text_way(data: bytes) -> object:
    try:
        return read_csv_records(decode_csv_bytes(data))
    except (FileRefused, TextDecodeError) as exc:
        return type(exc)


def _same(a: object, b: object) -> None:
    assert type(a) is type(b)
    pd.testing.assert_frame_equal(a.frame, b.frame)  # type: ignore[attr-defined]
    assert a.extra_field_rows == b.extra_field_rows  # type: ignore[attr-defined]


@given(_FILE)
def test_whatever_it_reads_is_what_the_text_way_reads(data):
    records = read_utf8_records(data)
    if records is not None:
        _same(records, _text_way(data))


_CELL = st.text(st.sampled_from(list("ab9 -é€£'")), min_size=1, max_size=5)


@given(
    st.integers(1, 4).flatmap(
        lambda width: st.lists(st.lists(_CELL, min_size=width, max_size=width), min_size=2)
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
)
def test_a_plain_utf8_file_is_read_from_its_bytes(rows, end, bom):
    # A header of white space only goes the text's way (read_utf8_records leaves it to it).
    assume("".join(rows[0]).strip())
    text = end.join(",".join(row) for row in rows) + end
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    records = read_utf8_records(data)
    assert records is not None  # the fast way is taken, not only allowed
    _same(records, _text_way(data))
    assert list(records.frame.columns) == rows[0]
    assert records.frame.index.tolist() == list(range(2, len(rows) + 1))


@pytest.mark.parametrize(
    "data",
    [
        b"id,name\n1,\xa3\n",  # Windows-1252
        b'id,name\n1,"a,b"\n',  # quoted
        b"id,name\n1,a,extra\n",  # ragged
        b" \n\t\n",  # no visible header
        b"\xff\xfei\x00d\x00",  # UTF-16
        b"i\x01d,x\n1,2\n",  # a control character in the header
    ],
)
def test_files_for_the_text_way_are_left_to_it(data):
    assert read_utf8_records(data) is None


@pytest.mark.parametrize(
    ("data", "lines", "extra"),
    [
        (b"\n,,,\r\nid,name\n1,a\n2,b\n", [4, 5], ()),  # straight from the bytes
        (b'\n ,\nid,name\n1,"a\nb"\n2,c\n', [4, 6], ()),  # quoted, a field over two lines
        (b"\r\n\r\nid,name\n1,a,extra\n2,b\n", [4, 5], (4,)),  # a row too long: record by record
        (b"\n\nid,name\n1,\xa3\n2,b\n", [4, 5], ()),  # Windows-1252
    ],
)
def test_blank_lines_above_the_header_are_skipped_and_lines_still_counted(data, lines, extra):
    """A CSV saved from a sheet whose first row is empty starts with a blank line (or commas):
    it was 'extract cannot be read (EmptyDataError)' while the same sheet as .xlsx was read.
    Rows keep the numbers of their lines in the file, for the report."""
    records = read_utf8_records(data) or _text_way(data)
    assert list(records.frame.columns) == ["id", "name"]  # type: ignore[union-attr]
    assert records.frame.index.tolist() == lines  # type: ignore[union-attr]
    assert records.frame["id"].tolist() == ["1", "2"]  # type: ignore[union-attr]
    assert records.extra_field_rows == extra  # type: ignore[union-attr]
    _same(records, _text_way(data))


@pytest.mark.parametrize(
    ("data", "columns", "lines"),
    [
        (b"\xef\xbb\xbf\nid\n1\n2\n", ["id"], [3, 4]),
        (b"\xef\xbb\xbf,\r\nid,name\n1,a\n2,b\n", ["id", "name"], [3, 4]),
    ],
)
def test_a_byte_order_mark_above_blank_lines_goes_with_them(data, columns, lines):
    # The mark belongs to the file, not to its first line: the blank lines behind it are still
    # blank (a sheet saved as "CSV UTF-8" with an empty first row), and the header is the next.
    records = read_utf8_records(data) or _text_way(data)
    assert list(records.frame.columns) == columns  # type: ignore[union-attr]
    assert records.frame.index.tolist() == lines  # type: ignore[union-attr]
    _same(records, _text_way(data))


def test_a_file_of_blank_lines_is_empty():
    with pytest.raises(FileRefused, match="the file is empty"):
        read_csv_records("\n,,,\r\n  \n")


@pytest.mark.parametrize(
    "text", ["id,name\n1,\u00d1\u00e9\n", "id,name\n1,N\u00fa\u00f1ez \u00c2\u00c9\n"]
)
def test_windows_1252_letters_side_by_side_are_not_taken_for_utf8(text):
    # Worked by hand: \u00d1\u00e9 in Windows-1252 is D1 E9, a UTF-8 lead byte followed by another
    # lead byte, not by a continuation byte (80-BF): no UTF-8 character, so not mixed encodings.
    data = text.encode("cp1252")
    assert decode_csv_bytes(data) == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xef\xbb\xbfid,name\r\n1,a\r\n2,\xe9\r\n", "line 3 is not UTF-8"),
        (b"id,name\r\n1,caf\xc3\xa9\r\n\r\n3,\xe9\r\n", "line 2 is UTF-8 but line 4 is not"),
        (b"\xef\xbb\xbfid,name\r1,a\n2,\xe9\r\n", "line 3 is not UTF-8"),
    ],
)
def test_the_line_named_counts_cr_lf_as_one_line_end(data, message):
    # Worked by hand: a CR LF pair ends one line, as a lone CR or LF does.
    with pytest.raises(TextDecodeError, match=message):
        decode_csv_bytes(data)
