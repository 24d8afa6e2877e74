"""What a run hands back (flows/results.py) on hand-made results, without Prefect: the lines and
exit codes a caller of the flows from Python gets, and how ``guarded`` turns a stage's failure
into one line without the library's message."""

from __future__ import annotations

import pytest

from flows.results import (
    InputSummary,
    Outcome,
    PeriodResult,
    RunResult,
    StageError,
    guarded,
)
from flows.signals import forget_interrupts, note_interrupt
from schemas.errors import ExitCode, PipelineError

LA = "E08000012"
QUOTED = "Featherstonehaugh 1985-05-20"  # what a library message might quote


def test_a_share_of_no_people_is_none_not_a_division_by_zero() -> None:
    summary = InputSummary(
        rows_read=0,
        rows_quarantined=0,
        rows_warned=0,
        people_read=0,
        people_quarantined=0,
        threshold=0.05,
    )
    assert summary.share == 0.0
    assert InputSummary(10, 2, 0, 8, 2, 0.05).share == 0.25


def test_a_periods_line_names_its_folder_and_note() -> None:
    written = PeriodResult(
        "2026-03-31", LA, Outcome.WRITTEN, folder="/out/E08000012/2026-03-31", message="n"
    )
    assert written.line() == "2026-03-31: written - /out/E08000012/2026-03-31 - n"
    assert PeriodResult("2026-03-31", LA, Outcome.FAILED).line() == "2026-03-31: failed"


def test_a_result_with_a_failed_period_has_exit_code_1() -> None:
    ok = PeriodResult("2025-09-30", LA, Outcome.UP_TO_DATE, folder="/out/x")
    bad = PeriodResult("2026-03-31", LA, Outcome.THRESHOLD_EXCEEDED, message="over")
    assert RunResult(periods=(ok,)).exit_code == ExitCode.OK
    assert RunResult(periods=(ok, bad)).exit_code == ExitCode.FAILED
    assert RunResult(periods=(ok, bad)).failure_message() == (
        "1 of 2 periods failed: 2026-03-31 (threshold exceeded)"
    )
    assert RunResult(periods=(bad,)).failure_message() == "2026-03-31: threshold exceeded - over"


def _inner(value: str) -> None:
    raise ValueError(f"cannot parse {value}")


def _outer() -> None:
    _inner(QUOTED)


def test_a_stage_error_names_where_it_was_raised_not_what_it_said() -> None:
    with pytest.raises(StageError) as caught:
        guarded("reading people", _outer)
    message = str(caught.value)
    assert message.startswith("reading people failed: ValueError at test_flows_results.py:")
    assert message.endswith(" in _inner")  # the innermost frame, where it was raised
    assert "Featherstonehaugh" not in message


def test_guarded_lets_the_pipelines_own_errors_and_a_lost_connection_through() -> None:
    def refuses() -> None:
        raise PipelineError("the families extract holds another council's families")

    def unreachable() -> None:
        raise ConnectionError("database does not answer")  # retried by the pull's task

    with pytest.raises(PipelineError, match="another council's families"):
        guarded("validation", refuses)
    with pytest.raises(ConnectionError):
        guarded("reading people", unreachable)


def test_guarded_ends_as_the_interrupt_a_library_wrapped() -> None:
    def wrapped() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("library cleanup failed") from exc

    with pytest.raises(KeyboardInterrupt):
        guarded("reading people", wrapped)


def test_guarded_does_not_start_a_stage_after_an_interrupt_was_swallowed() -> None:
    ran = []
    note_interrupt("sigint")
    try:
        with pytest.raises(KeyboardInterrupt):
            guarded("computing", lambda: ran.append(True))
    finally:
        forget_interrupts()
    assert ran == []
