"""Retention: a purge removes exactly what the pipeline made for the census dates before D, and
nothing else: never the audit log, never another name, never through a symbolic link."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from exports.retention import census_of, plan_purge, purge

LA, OTHER_LA = "E08000012", "E06000001"


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _make(root: Path, relative: str, content: str = "x") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    for la in (LA, OTHER_LA):
        for census in ("2024-03-31", "2024-09-30", "2025-03-31"):
            _make(root, f"{la}/{census}/manifest.json")
            _make(root, f"{la}/{census}/nis_{la}_{census}_individuals.csv")
            _make(root, f"{la}/{census}/research_{la}_{census}.csv")
            _make(root, f"{la}/.{census}.lock", "")
    _make(root, f"{LA}/2024-03-31/transfer/nis_{LA}_2024-03-31.zip")
    _make(root, f"{LA}/2024-03-31.replaced-1/manifest.json")
    _make(root, f"{LA}/2024-03-31.replaced-2/manifest.json")
    _make(root, f"{LA}/2024-09-30.failed-validation_report.xlsx")
    _make(root, f"{LA}/.2024-09-30.partial-abc123/nis_{LA}_2024-09-30_fpd.csv")
    _make(root, f"{LA}/.2024-09-30.failed-validation_report.xlsx.k2j3.tmp")
    # Not made by the pipeline for a census date: never touched.
    _make(root, f"{LA}/2024-01-01/notes.txt")  # a date that is not a census date
    _make(root, f"{LA}/2024-03-31-backup/notes.txt")
    _make(root, f"{LA}/README.txt")
    _make(root, "notes/2020-03-31/x.txt")  # not an LA folder
    _make(root, "audit.jsonl", '{"command":"run"}\n')
    return root


EXPECTED_BEFORE_2025 = [
    f"{LA}/.2024-03-31.lock",
    f"{LA}/2024-03-31",
    f"{LA}/2024-03-31.replaced-1",
    f"{LA}/2024-03-31.replaced-2",
    f"{LA}/.2024-09-30.failed-validation_report.xlsx.k2j3.tmp",
    f"{LA}/.2024-09-30.lock",
    f"{LA}/.2024-09-30.partial-abc123",
    f"{LA}/2024-09-30",
    f"{LA}/2024-09-30.failed-validation_report.xlsx",
]


def _other_la(census: str) -> list[str]:
    return [f"{OTHER_LA}/.{census}.lock", f"{OTHER_LA}/{census}"]


def _names(root: Path, paths: list[Path]) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_names_the_pipeline_makes_and_no_others() -> None:
    assert census_of("2025-03-31") == date(2025, 3, 31)
    assert census_of("2025-03-31.replaced-12") == date(2025, 3, 31)
    assert census_of(".2025-09-30.partial-x1") == date(2025, 9, 30)
    assert census_of(".2025-09-30.purging-2025-09-30.replaced-1") == date(2025, 9, 30)
    for name in (
        "2025-03-30",
        "2025-03-31-old",
        "2025-13-31",
        "x2025-03-31",
        "2025-03-31.zip",
        "2025-03-31.replaced-old",  # a person's own name: the pipeline numbers what it keeps
        "2025-03-31.replaced-",
    ):
        assert census_of(name) is None


def test_dry_run_plan_lists_exactly_the_old_census_paths(out: Path) -> None:
    before = _tree(out)
    plan = plan_purge(out, date(2025, 1, 1), [LA])
    assert _names(out, [i.path for i in plan.items]) == EXPECTED_BEFORE_2025
    assert _tree(out) == before  # planning removes nothing

    every_la = plan_purge(out, date(2025, 1, 1))
    assert _names(out, [i.path for i in every_la.items]) == (
        _other_la("2024-03-31") + _other_la("2024-09-30") + EXPECTED_BEFORE_2025
    )
    # D is excluded: a census date equal to D stays.
    on_the_day = plan_purge(out, date(2024, 9, 30), [LA])
    assert all(i.census < date(2024, 9, 30) for i in on_the_day.items)
    assert f"{LA}/2024-09-30" not in _names(out, [i.path for i in on_the_day.items])


def test_purge_removes_exactly_the_planned_paths(out: Path) -> None:
    before = _tree(out)
    plan = plan_purge(out, date(2025, 1, 1), [LA])
    result = purge(out, plan)
    assert not result.failed
    assert _names(out, [i.path for i in result.removed]) == EXPECTED_BEFORE_2025
    removed = {
        path
        for path in before
        if any(path == r or path.startswith(r + "/") for r in EXPECTED_BEFORE_2025)
    }
    assert _tree(out) == before - removed
    assert (out / "audit.jsonl").read_text() == '{"command":"run"}\n'
    assert (out / OTHER_LA / "2024-03-31" / "manifest.json").exists()
    assert (out / LA / "2025-03-31" / f"research_{LA}_2025-03-31.csv").exists()


def test_a_link_is_neither_followed_nor_removed(out: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _make(outside, "2023-03-31/manifest.json")
    _make(outside, "precious.txt")
    (out / LA / "2023-09-30").symlink_to(outside / "2023-03-31")  # a census folder that is a link
    (out / LA / "2024-03-31" / "escape").symlink_to(outside)  # a link inside a purged folder
    linked_la = "E09000001"
    (out / linked_la).symlink_to(outside)  # an LA folder that is a link

    plan = plan_purge(out, date(2025, 1, 1))
    planned = _names(out, [i.path for i in plan.items])
    assert f"{LA}/2023-09-30" not in planned and not any(p.startswith(linked_la) for p in planned)
    assert {p.relative_to(out).as_posix() for p, _ in plan.skipped} == {
        f"{LA}/2023-09-30",
        linked_la,
    }
    result = purge(out, plan)
    assert not result.failed
    assert (outside / "precious.txt").read_text() == "x"
    assert (outside / "2023-03-31" / "manifest.json").exists()
    assert (out / LA / "2023-09-30").is_symlink()  # left as it was
    assert not (out / LA / "2024-03-31").exists()


def test_a_census_being_written_is_left_and_reported(out: Path) -> None:
    import fcntl

    plan = plan_purge(out, date(2024, 6, 1), [LA])
    with open(out / LA / ".2024-03-31.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = purge(out, plan)
    assert result.removed == []
    assert {p.name for p, _ in result.failed} == {
        ".2024-03-31.lock",
        "2024-03-31",
        "2024-03-31.replaced-1",
        "2024-03-31.replaced-2",
    }
    assert (out / LA / "2024-03-31" / "manifest.json").exists()


def test_nothing_to_purge_and_no_output_folder(tmp_path: Path) -> None:
    assert plan_purge(tmp_path / "missing", date(2030, 1, 1)).items == []
    out = tmp_path / "out"
    _make(out, f"{LA}/2026-03-31/manifest.json")
    plan = plan_purge(out, date(2026, 3, 31))
    assert plan.items == [] and purge(out, plan).removed == []
    assert os.listdir(out / LA) == ["2026-03-31"]


def test_a_purge_stopped_part_way_leaves_no_half_removed_census_folder(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a purge left a census folder with some of its files gone: a run of the next
    census would take it for the previous submission and find it altered. Each folder is renamed
    out of the way first; the next purge removes what the stopped one left."""
    import shutil

    import exports.retention

    real_rmtree = shutil.rmtree

    def stopped(path: Path) -> None:
        (Path(path) / "manifest.json").unlink()  # part of it is gone, then Ctrl-C
        raise KeyboardInterrupt

    before = _tree(out)
    monkeypatch.setattr(exports.retention.shutil, "rmtree", stopped)
    with pytest.raises(KeyboardInterrupt):
        purge(out, plan_purge(out, date(2025, 1, 1), [LA]))
    monkeypatch.setattr(exports.retention.shutil, "rmtree", real_rmtree)
    assert not (out / LA / "2024-03-31").exists()  # gone from its name, whole
    left = out / LA / ".2024-03-31.purging-2024-03-31"
    assert (left / f"nis_{LA}_2024-03-31_individuals.csv").exists()

    again = plan_purge(out, date(2025, 1, 1), [LA])
    assert f"{LA}/.2024-03-31.purging-2024-03-31" in _names(out, [i.path for i in again.items])
    result = purge(out, again)
    assert not result.failed
    removed = {
        path
        for path in before
        if any(path == r or path.startswith(r + "/") for r in EXPECTED_BEFORE_2025)
    }
    assert _tree(out) == before - removed  # as an uninterrupted purge leaves it


def test_a_folder_that_became_a_link_after_the_plan_is_not_deleted_through(
    out: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    _make(outside, "precious.txt")
    plan = plan_purge(out, date(2024, 6, 1), [LA])
    census = out / LA / "2024-03-31"
    census.rename(tmp_path / "moved")
    census.symlink_to(outside)  # between the plan and the purge
    result = purge(out, plan)
    assert {p.name: why for p, why in result.failed} == {"2024-03-31": "it is now a symbolic link"}
    assert (outside / "precious.txt").read_text() == "x"
    assert census.is_symlink()


def test_the_lock_a_purge_takes_goes_with_the_census(tmp_path: Path) -> None:
    # No run ever locked 2024-03-31 here: taking the lock makes the file, which is removed too.
    out = tmp_path / "out"
    _make(out, f"{LA}/2024-03-31/manifest.json")
    _make(out, f"{LA}/2025-03-31/manifest.json")
    result = purge(out, plan_purge(out, date(2025, 1, 1)))
    assert _names(out, [i.path for i in result.removed]) == [f"{LA}/2024-03-31"]
    assert os.listdir(out / LA) == ["2025-03-31"]
