"""Placing a council's headers on the contract's columns, and helping when they do not fit.

Headers are matched to the contract's column names after trimming and case-folding (spec
section 2), once the config's ``column_map`` has renamed the council's own headers. A header
that is no contract column is ignored (data minimisation); what this module adds is the column
it most likely means, from the names and the common local spellings each model field declares
(``metadata["aliases"]``), so that an analyst can fix the column map at the first run instead of
finding a quarantine of every person for a missing date of birth.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas.cleaning import INVISIBLE_EDGES
from schemas.models import SCHEMAS


def normalise_header(name: object) -> str:
    # Invisible characters at the ends (a zero-width space or a byte order mark pasted with the
    # header) are stripped as they are from cells: "\u200bFamily_Id" is family_id.
    return str(name).strip(INVISIBLE_EDGES).casefold()


def _key(name: str) -> str:
    """A header reduced to letters and digits: 'Date of Birth' and 'date_of_birth' meet."""
    return re.sub(r"[^0-9a-z]+", "", normalise_header(name))


@dataclass(frozen=True)
class HeaderMatch:
    """How the headers of one extract fall on the contract's columns."""

    extract: str
    found: Mapping[str, str]  # contract column -> the header as written
    unknown: tuple[str, ...]  # headers (as written) that are no contract column
    missing_required: tuple[str, ...]  # contract columns that must be there and are not
    missing_optional: tuple[str, ...]  # '?' columns that are not there (read as empty)
    repeated: tuple[str, ...]  # contract columns given by more than one header
    # column_map entries (header, column) whose column is not one of this extract's
    mapped_to_nothing: tuple[tuple[str, str], ...] = ()


# Optional columns that may be absent, but not unread: a header that most likely means one of
# them (an "Opt Out" column left unmapped) stops the run until it is mapped or taken out.
NOT_TO_GO_UNREAD = frozenset({"nis_opt_out"})


def match_headers(
    extract: str, headers: Sequence[object], column_map: Mapping[str, str] | None = None
) -> HeaderMatch:
    """Match ``headers`` (as read, in file order) to the columns of ``extract``, renaming first
    by ``column_map`` (the council's header -> the contract's name; both sides matched like
    headers)."""
    columns = SCHEMAS[extract].columns
    rename = {normalise_header(k): normalise_header(v) for k, v in (column_map or {}).items()}
    found: dict[str, str] = {}
    unknown: list[str] = []
    repeated: list[str] = []
    for header in headers:
        written = str(header).strip()
        name = rename.get(normalise_header(header), normalise_header(header))
        if name in columns:
            if name in found and name not in repeated:
                repeated.append(name)
            found.setdefault(name, written)
        elif normalise_header(header):  # (a header of invisible characters only is none)
            unknown.append(written)
    absent = [c for c in columns if c not in found]
    # An optional column read as empty because its header went unrecognised is not always
    # harmless: an opt-out read as none sends the person. Such a column is then required.
    unread = {suggest(extract, h) for h in unknown} & NOT_TO_GO_UNREAD & set(absent)
    return HeaderMatch(
        extract=extract,
        found=found,
        unknown=tuple(unknown),
        missing_required=tuple(c for c in absent if columns[c].required or c in unread),
        missing_optional=tuple(c for c in absent if not columns[c].required and c not in unread),
        repeated=tuple(repeated),
        mapped_to_nothing=tuple(
            (k, v) for k, v in (column_map or {}).items() if normalise_header(v) not in columns
        ),
    )


# Words a header may add or spell otherwise without changing which column it means.
_FILLER = frozenset({"a", "an", "at", "by", "for", "in", "of", "on", "the", "to"})
_SAME_AS_ID = frozenset({"ref", "reference", "no", "number", "num", "identifier", "code"})


def _words(name: str) -> frozenset[str]:
    """A name as a set of words, in any order: 'Sessions Possible' and 'possible_sessions' meet,
    as do 'Person Ref' and 'person_id'."""
    words = re.findall(r"[a-z0-9]+", normalise_header(name))
    return frozenset("id" if w in _SAME_AS_ID else w for w in words if w not in _FILLER)


@functools.cache
def _spelled(extract: str) -> tuple[tuple[frozenset[str], str], ...]:
    """(words of a spelling, contract column) for each column of ``extract``: its name, and the
    aliases declared for a column of that name in any extract (person_id's are declared once,
    on people, and hold for every extract with a person_id). Made once per extract: a file of
    thousands of unknown headers asks for each."""
    aliases: dict[str, list[str]] = {}
    for schema in SCHEMAS.values():
        for column, spec in schema.columns.items():
            aliases.setdefault(column, []).extend((spec.metadata or {}).get("aliases", ()))
    return tuple(
        (_words(spelling), column)
        for column in SCHEMAS[extract].columns
        for spelling in (column, *aliases[column])
    )


@functools.cache
def _spellings(extract: str) -> dict[str, str]:
    """Reduced spelling -> contract column: the names and the declared aliases (of any extract's
    column of that name)."""
    spellings: dict[str, str] = {}
    for schema in SCHEMAS.values():
        for column, spec in schema.columns.items():
            if column in SCHEMAS[extract].columns:
                for spelling in (column, *(spec.metadata or {}).get("aliases", ())):
                    spellings.setdefault(_key(spelling), column)
    return spellings


def suggest(extract: str, header: str) -> str | None:
    """The contract column ``header`` most likely means, or None: a name or alias spelled
    alike, then the same words in any order, then a close spelling, then the one column whose
    words are all in the header ('Case Status' -> status)."""
    spellings = _spellings(extract)
    key = _key(header)
    if not key:
        return None
    if key in spellings:
        return spellings[key]
    words = _words(header)
    spelled = _spelled(extract)
    same = {column for spelling, column in spelled if spelling == words}
    if len(same) == 1:
        return same.pop()
    close = difflib.get_close_matches(key, list(spellings), n=1, cutoff=0.8)
    if close:
        return spellings[close[0]]
    within = {column for spelling, column in spelled if spelling < words}
    return within.pop() if len(within) == 1 else None


@dataclass(frozen=True)
class ColumnNote:
    text: str
    # A contract column is absent and a header probably holds it: every value of that column
    # reads as empty, which usually quarantines rows wholesale.
    serious: bool


# What a cell of data looks like, whole, and a column name does not (a name may hold a year,
# "Offences 2024/25", but is not one value): a date, a number, an id or code with four or more
# digits (P00000001, E08000012, a NINO, a UPN, an NHS number), a postcode, an email address.
_VALUE_LIKE = re.compile(
    r"[0-9]{1,4}[/.-][0-9]{1,2}[/.-][0-9]{2,4}(?:[ T][0-9:.]+)?"
    r"|[+-]?[0-9][0-9., ]*"
    r"|[A-Za-z]{0,3}[0-9]{4,}[A-Za-z]?"
    r"|[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}"
    r"|[^@\s]+@[^@\s]+"
)


def looks_like_a_value(header: str) -> bool:
    """A header that reads like a cell of data, as the first row of a file without its header
    row does."""
    return _VALUE_LIKE.fullmatch(header.strip()) is not None


def column_notes(match: HeaderMatch) -> list[ColumnNote]:
    """A note for each column_map entry naming no column of the extract, then one per
    unrecognised header, with the contract column it most likely means; the serious ones (that
    column is absent) first.

    When no header is a contract column and two or more look like values, or none is named like
    a column, the file's first row is most likely data (its header row missing) and its cells
    may be a person's details: one note says so, and no header is quoted. (A council's own
    header with a year in it, beside others, is still shown with its hint.)"""
    wrong_map: list[ColumnNote] = []
    for header, column in match.mapped_to_nothing:
        guess = suggest(match.extract, column)
        hint = f"; did you mean {guess!r}?" if guess else ""
        wrong_map.append(
            ColumnNote(
                f"column_map.{match.extract}: {header!r} = {column!r}, but {match.extract} has "
                f"no column {column!r}{hint}",
                serious=True,
            )
        )
    return wrong_map + _header_notes(match)


def resembles_a_column(extract: str, header: str) -> bool:
    """Whether ``header`` is named like a column of ``extract``: a name or alias spelled alike,
    the same words, or all the words of one in it. No close spellings: a surname one letter
    from a column name ('Dobb') is not a header."""
    key = _key(header)
    if not key:
        return False
    if key in _spellings(extract):
        return True
    words = _words(header)
    return any(spelling <= words for spelling, _ in _spelled(extract))


def _header_notes(match: HeaderMatch) -> list[ColumnNote]:
    if len(match.found) <= 1 and match.unknown:
        # No contract column at all, or one (a first row of data may hold a cell that reads
        # like a column's name): the first row is a header row only if a cell of it is named
        # like a column. Otherwise it is most likely data (ids that are not numbers, a GUID, a
        # name, an offence) and is not quoted.
        if sum(looks_like_a_value(h) for h in match.unknown) >= 2:
            why = "some look like values (a date, a number, a postcode)"
        elif not match.found and not any(
            resembles_a_column(match.extract, h) for h in match.unknown
        ):
            why = "none is named like one"
        else:
            why = ""
        if why:
            return [
                ColumnNote(
                    f"{match.extract}: {len(match.unknown)} headers are no contract column and "
                    f"{why}: is the header row missing? They are not shown, as they may be a "
                    "person's details",
                    serious=True,
                )
            ]
    notes: list[ColumnNote] = []
    for header in match.unknown:
        guess = suggest(match.extract, header)
        text = f"{header!r} in {match.extract}: not a contract column"
        if guess is None:
            notes.append(ColumnNote(text + "; ignored", serious=False))
        elif guess in match.found:
            notes.append(
                ColumnNote(
                    text + f"; ignored ({guess!r} is already given by {match.found[guess]!r})",
                    serious=False,
                )
            )
        else:
            absent = f", and {match.extract} has no {guess!r} column"
            notes.append(
                ColumnNote(
                    text + f'{absent}; did you mean {guess!r}? add "{header}" = "{guess}" '
                    f"under [column_map.{match.extract}]",
                    serious=True,
                )
            )
    return sorted(notes, key=lambda n: not n.serious)
