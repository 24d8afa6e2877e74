"""What ``nis hub`` checks before anything starts (flows.hub_plan), its summary lines, its results
crossing processes by pickle, and its Dask task runner; none of it starts Prefect or Dask."""

from __future__ import annotations

import json
import pickle
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.hub_plan import (
    HubInputError,
    check_scheduler,
    config_notes,
    council_folders,
    hub_settings,
    plan_hub,
    unreachable_api,
)
from flows.hub_results import CouncilFailed, CouncilResult, HubFailed, HubResult
from flows.hub_summary import council_line, hub_summary
from flows.results import CohortSizes, InputSummary, Outcome, PeriodResult
from nis_pipeline.cli import app
from schemas.errors import ExitCode, UserInputError


def _config(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(["extract_date = 2026-10-31", *lines]) + "\n", encoding="utf-8")
    return path


def _sources(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).mkdir(parents=True)
    return root


def test_councils_are_the_folders_under_sources_by_name(tmp_path: Path) -> None:
    root = _sources(tmp_path / "sources", "wirral", "bolton", ".snapshot", "camden")
    (root / "README.txt").write_text("notes", encoding="utf-8")
    assert [p.name for p in council_folders(root)] == ["bolton", "camden", "wirral"]


@pytest.mark.parametrize(
    "setup, expected",
    [
        (lambda root: root.mkdir(), "no council folders in {root} (one folder of extracts per"),
        (lambda root: None, "sources folder {root} does not exist"),
        (lambda root: root.write_text("x"), "sources folder {root} is a file, not a folder"),
        (
            lambda root: (root.mkdir(), (root / "families.csv").write_text("x")),
            "no council folders in {root} (it holds one council's extracts: use nis run",
        ),
    ],
)
def test_no_councils_is_a_fatal_mistake(tmp_path: Path, setup: object, expected: str) -> None:
    root = tmp_path / "sources"
    setup(root)  # type: ignore[operator]
    with pytest.raises(HubInputError) as caught:
        council_folders(root)
    assert str(caught.value).startswith(expected.format(root=root))
    assert caught.value.exit_code == ExitCode.FATAL


def test_the_config_is_shared_but_its_la_code_and_source_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(
        tmp_path / "nis.toml",
        'la_code = "E08000012"',
        "quarantine_threshold = 0.02",
        "[source]",
        'path = "somewhere"',
        "[column_map.people]",
        '"Forename " = "forename"',
    )
    council = tmp_path / "sources" / "bolton"
    settings = hub_settings(config, council, tmp_path / "out")
    assert settings.la_code is None
    assert settings.source.path == council and settings.source.url is None
    assert settings.quarantine_threshold == 0.02
    assert settings.column_map == {"people": {"Forename ": "forename"}}
    assert settings.output_dir == tmp_path / "out"
    assert str(settings.extract_date) == "2026-10-31"

    monkeypatch.setenv("NIS_LA_CODE", "E09000001")
    assert hub_settings(config, council, None).la_code is None

    from flows.settings import load_settings

    notes = config_notes(load_settings(config))
    assert notes == [
        "note: la_code E09000001 from the config is not used by a hub: each council's code "
        "comes from its own families extract",
        "note: the config's [source] is not used by a hub: each council's extracts are its "
        "folder under --sources",
    ]
    monkeypatch.delenv("NIS_LA_CODE")
    assert config_notes(load_settings(_config(tmp_path / "plain.toml"))) == []
    # A database named as the source is left aside just the same.
    database = _config(tmp_path / "db.toml", "[source]", 'url = "postgresql://db.example/cases"')
    assert config_notes(load_settings(database)) == [
        "note: the config's [source] is not used by a hub: each council's extracts are its "
        "folder under --sources"
    ]


def test_a_councils_code_is_read_as_validation_reads_it(tmp_path: Path) -> None:
    """Two folders of one council, one with its codes padded: validation takes both for the
    same council (it strips codes), so the check ahead of the run must too, or both would be
    written to one folder."""
    from flows.hub_plan import families_codes
    from synth.generate import write_synthetic

    folder = tmp_path / "sources" / "padded"
    write_synthetic(folder, families=6, seed=3)
    families = folder / "families.csv"
    text = families.read_text(encoding="utf-8")
    families.write_text(text.replace(",E08000012,", ",  E08000012 ,"), encoding="utf-8")
    assert ",  E08000012 ," in families.read_text(encoding="utf-8")
    assert families_codes(str(folder), None, str(tmp_path / "out")) == ("E08000012",)
    # An extract that cannot be read gives no code: the council's own run says why.
    assert families_codes(str(tmp_path / "sources" / "none"), None, str(tmp_path / "out")) == ()


def test_a_code_of_another_shape_is_a_rows_error_not_a_second_council(tmp_path: Path) -> None:
    """Validation upper-cases codes and quarantines a row whose code is not an ONS code's shape
    (E110), and the folder's run writes the one council left: the check ahead must see that one
    council, or a second folder of it would not be held back and whichever worker came first
    would write it."""
    from flows.hub_plan import families_codes, shared_councils
    from synth.generate import write_synthetic

    sources = tmp_path / "sources"
    for label in ("a", "b"):
        write_synthetic(sources / label, families=6, seed=3)
    families = sources / "a" / "families.csv"
    lines = families.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace(",E08000012,", ",ZZ-NOT-A-CODE,")
    lines[2] = lines[2].replace(",E08000012,", ",e08000012,")
    families.write_text("".join(lines), encoding="utf-8")
    # Folder b's codes all in lower case: still council E08000012.
    other = sources / "b" / "families.csv"
    other.write_text(
        other.read_text(encoding="utf-8").replace(",E08000012,", ",e08000012,"), encoding="utf-8"
    )
    found = {
        label: families_codes(str(sources / label), None, str(tmp_path / "out"))
        for label in ("a", "b")
    }
    assert found == {"a": ("E08000012",), "b": ("E08000012",)}
    assert shared_councils(found) == {
        "a": ("E08000012", ("a", "b")),
        "b": ("E08000012", ("a", "b")),
    }


def test_plan_makes_paths_absolute_and_checks_its_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _sources(tmp_path / "sources", "b", "a")
    config = _config(tmp_path / "nis.toml", 'output_dir = "subs"')
    plan = plan_hub("2026-03-31", Path("sources"), Path("nis.toml"), None, 2, None)
    assert plan.census == "2026-03-31"
    assert plan.councils == (tmp_path / "sources" / "a", tmp_path / "sources" / "b")
    assert plan.config == config and plan.output_dir == tmp_path / "subs"
    assert (plan.workers, plan.scheduler, plan.notes) == (2, None, ())
    assert plan_hub("2026-03-31", "sources", None, "out", 1, None).output_dir == tmp_path / "out"

    with pytest.raises(HubInputError, match=r"workers \(--workers\) must be 1 or more, not 0"):
        plan_hub("2026-03-31", "sources", None, None, 0, None)
    with pytest.raises(HubInputError, match="is not a Dask scheduler address"):
        plan_hub("2026-03-31", "sources", None, None, 2, "tcp://dask-host")
    assert plan_hub("2026-03-31", "sources", None, None, 2, " tcp://h:8786 ").scheduler == (
        "tcp://h:8786"
    )
    with pytest.raises(Exception, match="not a census date"):
        plan_hub("2026-03-30", "sources", None, None, 2, None)


def test_a_scheduler_that_does_not_answer_is_said_at_once() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(HubInputError) as caught:
        check_scheduler(f"tcp://127.0.0.1:{port}", timeout=2)
    assert str(caught.value).startswith(f"the Dask scheduler at tcp://127.0.0.1:{port} does not")

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_scheduler(f"127.0.0.1:{listening.getsockname()[1]}", timeout=2)
    check_scheduler("tls://dask-host:8786")  # other protocols are left to Dask


@pytest.mark.parametrize(
    "address",
    ["http://127.0.0.1:8787", "https://dask.hub.example/status", "inproc://x", "ftp://h:1"],
)
def test_a_scheduler_address_dask_cannot_connect_to_is_an_argument_mistake(
    tmp_path: Path, address: str
) -> None:
    """It started Prefect and the flow, then ended exit 1 with Dask's exception's type alone
    ("could not be started or reached: ValueError"); it is a mistake in the arguments: exit 2,
    before anything starts."""
    _sources(tmp_path / "sources", "wirral")
    with pytest.raises(HubInputError, match="is not a Dask scheduler address") as caught:
        plan_hub("2026-03-31", tmp_path / "sources", None, tmp_path / "out", 2, address)
    assert ("dashboard's" in str(caught.value)) == address.startswith("http")
    assert caught.value.exit_code == ExitCode.FATAL


def test_workers_on_other_machines_cannot_use_an_api_on_loopback() -> None:
    local = ["tcp://127.0.0.1:40001", "tcp://127.0.0.1:40002"]
    remote = ["tcp://10.1.2.3:40001", "tcp://127.0.0.1:40002"]
    assert unreachable_api("http://127.0.0.1:4200/api", local) is None
    assert unreachable_api("http://prefect.hub.example:4200/api", remote) is None
    problem = unreachable_api("http://localhost:4200/api", remote)
    assert problem is not None
    assert problem.startswith("1 of the Dask cluster's 2 workers are on other machines (10.1.2.3")
    assert "set PREFECT_API_URL" in problem
    assert unreachable_api("http://[::1]:4200/api", ["tcp://[fe80::1]:1"]) is not None


def _result() -> HubResult:
    written = PeriodResult(
        "2026-03-31",
        "E09000001",
        Outcome.WRITTEN,
        folder="/out/E09000001/2026-03-31",
        cohort=CohortSizes(
            nis_families=13, nis_people=47, fpd_families=9, fpd_people=29, opted_out=1
        ),
        report="/out/E09000001/2026-03-31/validation_report.xlsx",
    )
    inputs = InputSummary(
        rows_read=767, rows_quarantined=4, rows_warned=2, people_read=100, people_quarantined=3,
        threshold=0.05,
    )  # fmt: skip
    refused = PeriodResult(
        "2026-03-31",
        "E06000001",
        Outcome.THRESHOLD_EXCEEDED,
        message="9.0% of people rows quarantined, above the threshold 5.0%: no submission written",
        report="/out/E06000001/2026-03-31/validation_report.xlsx",
    )
    return HubResult(
        census="2026-03-31",
        councils=(
            CouncilResult("camden", "/s/camden", Outcome.WRITTEN, "E09000001", written, inputs),
            CouncilResult(
                "hartlepool",
                "/s/hartlepool",
                Outcome.THRESHOLD_EXCEEDED,
                "E06000001",
                refused,
                inputs,
                refused.message,
            ),  # fmt: skip
            CouncilResult(
                "wirral", "/s/wirral", Outcome.FAILED, message="[F001] /s/wirral/people.csv: gone"
            ),
        ),
        cluster="Dask local cluster",
    )


def test_summary_says_one_line_per_council_with_counts_and_folder() -> None:
    result = _result()
    assert hub_summary(result) == [
        "NIS hub 2026-03-31: 3 councils, 1 written or up to date, 2 failed",
        "camden: E09000001 written - /out/E09000001/2026-03-31 | read 767, quarantined 4, warned "
        "2 rows; people quarantined 3.0% | NIS 47 people in 13 families, FPD 29 people in 9 "
        "families, 1 opted out",
        "hartlepool: E06000001 threshold exceeded | read 767, quarantined 4, warned 2 rows; "
        "people quarantined 3.0% | why: 9.0% of people rows quarantined, above the threshold "
        "5.0%: no submission written | report /out/E06000001/2026-03-31/validation_report.xlsx",
        "wirral: - failed | why: [F001] /s/wirral/people.csv: gone",
    ]
    assert result.failure_message() == (
        "2 of 3 councils failed: hartlepool (threshold exceeded), wirral (failed)"
    )
    assert HubFailed(result).exit_code == ExitCode.FAILED  # what the command exits with


def test_a_hub_of_one_council_with_cohorts_of_one_reads_in_the_singular() -> None:
    sizes = CohortSizes(nis_families=1, nis_people=1, fpd_families=1, fpd_people=1, opted_out=0)
    period = PeriodResult("2026-03-31", "E09000001", Outcome.WRITTEN, folder="/o", cohort=sizes)
    inputs = InputSummary(
        rows_read=9, rows_quarantined=1, rows_warned=1, people_read=4, people_quarantined=1,
        threshold=0.5,
    )  # fmt: skip
    council = CouncilResult("a", "/s/a", Outcome.WRITTEN, "E09000001", period, inputs)
    assert hub_summary(HubResult(census="2026-03-31", councils=(council,))) == [
        "NIS hub 2026-03-31: 1 council, 1 written or up to date, 0 failed",
        "a: E09000001 written - /o | read 9, quarantined 1, warned 1 row; people quarantined "
        "25.0% | NIS 1 person in 1 family, FPD 1 person in 1 family, 0 opted out",
    ]


def test_two_folders_of_one_council_are_warned_about() -> None:
    one = CouncilResult("a", "/s/a", Outcome.WRITTEN, "E09000001")
    two = CouncilResult("b", "/s/b", Outcome.UP_TO_DATE, "E09000001")
    result = HubResult("2026-03-31", (one, two))
    assert result.repeated_councils() == {"E09000001": ("a", "b")}
    assert hub_summary(result)[-1] == (
        "warning: folders a, b all hold council E09000001: they write the same folder under "
        "OUT/E09000001/"
    )
    assert council_line(one) == "a: E09000001 written"
    # A council up to date counts with the written ones: nothing failed.
    assert hub_summary(result)[0] == (
        "NIS hub 2026-03-31: 2 councils, 2 written or up to date, 0 failed"
    )


def test_failures_cross_processes_by_pickle() -> None:
    """A council's Failed state comes back from a Dask worker pickled, with its exception."""
    result = _result()
    council = pickle.loads(pickle.dumps(CouncilFailed(result.councils[2])))
    assert isinstance(council, CouncilFailed) and council.council == result.councils[2]
    assert str(council) == "wirral: failed - [F001] /s/wirral/people.csv: gone"
    known = CouncilResult("hartlepool", "/s/h", Outcome.FAILED, la_code="E06000001", message="x")
    assert known.line() == "hartlepool: failed (E06000001) - x"
    assert CouncilResult("york", "/s/y", Outcome.WRITTEN).line() == "york: written"
    hub = pickle.loads(pickle.dumps(HubFailed(result)))
    assert hub.result == result and str(hub) == result.failure_message()


@pytest.mark.parametrize(("bokeh", "free", "address"), [
    (True, True, "127.0.0.1:8787"),
    # Another dashboard on Dask's usual port: any free one, which Dask then takes without
    # warning on the terminal (the line naming the cluster says which it took).
    (True, False, "127.0.0.1:0"),
    # Without bokeh the scheduler's page saying so takes a free port, leaving 8787 to a real
    # dashboard elsewhere.
    (False, True, "127.0.0.1:0"),
])  # fmt: skip
def test_task_runner_is_a_local_cluster_of_single_thread_processes_or_the_scheduler(
    monkeypatch: pytest.MonkeyPatch, bokeh: bool, free: bool, address: str
) -> None:
    from prefect_dask import DaskTaskRunner

    import flows.hub
    from flows.hub import hub_task_runner

    monkeypatch.setattr(flows.hub, "bokeh_installed", lambda: bokeh)
    monkeypatch.setattr(flows.hub, "port_free", lambda port: free and port == 8787)
    local = hub_task_runner(workers=3)
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_class == "distributed.LocalCluster"
    kwargs = local.cluster_kwargs
    assert (kwargs["n_workers"], kwargs["threads_per_worker"], kwargs["processes"]) == (3, 1, True)
    assert kwargs["host"] == "127.0.0.1"
    assert kwargs["dashboard_address"] == address
    remote = hub_task_runner(workers=3, scheduler="tcp://10.0.0.5:8786")
    assert remote.address == "tcp://10.0.0.5:8786" and remote.cluster_kwargs == {}


def test_cli_with_no_council_folders_exits_2_and_is_audited(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["hub", "--census", "2026-03-31", "--sources", str(tmp_path / "empty"), "--out", str(out)],
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: no council folders in {tmp_path / 'empty'} (one folder of extracts per council)"
    )
    assert "Traceback" not in result.stderr and result.stdout == ""
    [line] = (out / "audit.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert (entry["command"], entry["census"], entry["la_code"]) == ("hub", "2026-03-31", None)
    assert (entry["outcome"], entry["exit_code"], entry["flow_run_id"]) == ("fatal", 2, None)


def test_cli_with_out_inside_the_sources_exits_2_and_makes_nothing_there(tmp_path: Path) -> None:
    """The refusal's audit line is not written under the sources: OUT would be made there, and
    the next hub would take it for a council folder."""
    sources = _sources(tmp_path / "sources", "wirral")
    before = sorted(p.relative_to(sources).as_posix() for p in sources.rglob("*"))
    result = CliRunner().invoke(
        app,
        ["hub", "--census", "2026-03-31", "--sources", str(sources), "--out",
         str(sources / "out")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "is inside the sources folder" in result.stderr
    assert sorted(p.relative_to(sources).as_posix() for p in sources.rglob("*")) == before


@pytest.mark.parametrize("scheduler", ["", "  "])
def test_cli_with_an_empty_scheduler_exits_2_rather_than_run_locally(
    tmp_path: Path, scheduler: str
) -> None:
    """``--scheduler "$DASK_SCHEDULER"`` with the variable unset ran the councils on a local
    cluster, as if the option had been left out."""
    _sources(tmp_path / "sources", "wirral")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["hub", "--census", "2026-03-31", "--sources", str(tmp_path / "sources"), "--out",
         str(out), "--scheduler", scheduler],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --scheduler is empty: give the Dask scheduler's address (tcp://HOST:PORT) or "
        "leave the option out to run on a local cluster"
    )
    assert result.stdout == "" and not (out / "E08000012").exists()


def test_an_output_folder_inside_the_sources_a_link_or_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _sources(tmp_path / "sources", "a", "b")
    for out in ("sources/out", "sources", "sources/a/subs"):
        with pytest.raises(HubInputError, match=r"is inside the sources folder sources: the next"):
            plan_hub("2026-03-31", "sources", None, out, 2, None)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UserInputError, match="the output folder link is a symbolic link"):
        plan_hub("2026-03-31", "sources", None, "link", 2, None)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserInputError, match="the output folder afile is a file, not a folder"):
        plan_hub("2026-03-31", "sources", None, "afile", 2, None)
    assert plan_hub("2026-03-31", "sources", None, "sources-out", 2, None).output_dir == (
        tmp_path / "sources-out"
    )


@pytest.mark.parametrize("out", ["sources/out", "sources", "sources/a/subs"])
def test_cli_refusing_an_output_folder_inside_the_sources_writes_nothing_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str
) -> None:
    """The refusal warns that the next hub would take the folder for a council, yet its audit
    line made ``sources/out/audit.jsonl``: the next hub then had one council more, which failed."""
    monkeypatch.chdir(tmp_path)
    _sources(tmp_path / "sources", "a", "b")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "sources").rglob("*"))
    result = CliRunner().invoke(
        app, ["hub", "--census", "2026-03-31", "--sources", "sources", "--out", out]
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: the output folder {out} is inside the sources folder sources: the next hub run "
        "would take it for a council; write the submissions elsewhere"
    )
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "sources").rglob("*")) == before
    assert [p.name for p in council_folders(tmp_path / "sources")] == ["a", "b"]


@pytest.mark.parametrize(("verbose", "level"), [(False, "CRITICAL"), (True, "INFO")])
def test_dask_warnings_are_for_verbose(verbose: bool, level: str) -> None:
    """A hub stopped by Ctrl-C printed Dask's worker warnings ("Async instruction ... cancelled")
    and a heartbeat's traceback on the terminal without --verbose; its local workers inherit the
    command's environment."""
    import os
    import subprocess
    import sys

    probe = (
        "from flows.local_server import quiet_defaults\n"
        f"quiet_defaults({verbose})\n"
        "import logging, distributed\n"
        "print(logging.getLevelName(logging.getLogger('distributed').getEffectiveLevel()))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == [level]


class _StandInClient:
    """What ``cluster_info`` asks of a Dask client, for clusters a test cannot start here."""

    def __init__(self, threads: list[int], link: str) -> None:
        self.dashboard_link = link
        self._workers = {
            f"tcp://10.0.0.{i + 7}:40{i}00": {"nthreads": n} for i, n in enumerate(threads)
        }

    def scheduler_info(self) -> dict[str, object]:
        return {"address": "tcp://10.0.0.5:8786", "workers": self._workers}


@pytest.mark.parametrize(
    ("threads", "local", "bokeh", "expected"),
    [
        # An existing cluster of workers with several threads each, its dashboard elsewhere.
        (
            [4, 2],
            False,
            False,
            "Dask existing cluster at tcp://10.0.0.5:8786: 2 workers, 6 threads; "
            "dashboard http://10.0.0.5:8787/status",
        ),
        # One worker of one thread: no plural.
        (
            [1],
            False,
            True,
            "Dask existing cluster at tcp://10.0.0.5:8786: 1 worker, 1 thread; "
            "dashboard http://10.0.0.5:8787/status",
        ),
        # A local cluster without bokeh has no dashboard to open, whatever its link says.
        (
            [1, 1, 1],
            True,
            False,
            "Dask local cluster at tcp://10.0.0.5:8786: 3 workers, 3 threads; "
            "no dashboard (it needs bokeh, which is not installed)",
        ),
        (
            [1, 1],
            True,
            True,
            "Dask local cluster at tcp://10.0.0.5:8786: 2 workers, 2 threads; "
            "dashboard http://10.0.0.5:8787/status",
        ),
    ],
)
def test_the_cluster_is_described_by_its_workers_threads_and_dashboard(
    monkeypatch: pytest.MonkeyPatch, threads: list[int], local: bool, bokeh: bool, expected: str
) -> None:
    import flows.hub

    monkeypatch.setattr(flows.hub, "bokeh_installed", lambda: bokeh)
    client = _StandInClient(threads, "http://10.0.0.5:8787/status")
    info = flows.hub.cluster_info(client, local=local)
    assert info.describe() == expected
    assert info.workers == tuple(sorted(client._workers)) and info.local is local


def test_port_free_says_whether_a_loopback_port_can_be_listened_on() -> None:
    from flows.hub import port_free

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not port_free(port)
    assert port_free(port)
    # Listening on every interface takes the loopback one's port too.
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        assert not port_free(listener.getsockname()[1])


def test_a_port_whose_server_has_just_stopped_is_free() -> None:
    """A server that closed its connections first (a dashboard stopped while a browser had it
    open) leaves them waiting out TIME_WAIT on its port: a plain bind is refused, but a server
    binds it again, as the next hub's dashboard would."""
    from flows.hub import port_free

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server's side closes first: its end waits in TIME_WAIT
    server.close()
    client.recv(1)  # the server's close has arrived
    client.close()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))
    assert port_free(port)


def test_an_output_folder_inside_the_sources_named_another_way_still_gets_no_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sources relative, OUT absolute (or through ".."): compared as given, the two would
    # not look nested, and the refusal's audit line would make sources/out a council folder.
    monkeypatch.chdir(tmp_path)
    _sources(tmp_path / "sources", "a", "b")
    for out in (str(tmp_path / "sources" / "out"), "sources/a/../out"):
        result = CliRunner().invoke(
            app, ["hub", "--census", "2026-03-31", "--sources", "sources", "--out", out]
        )
        assert result.exit_code == 2
        assert "is inside the sources folder sources" in result.stderr
        assert [p.name for p in council_folders(tmp_path / "sources")] == ["a", "b"]
        assert not (tmp_path / "sources" / "out").exists()


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("2026-03-31", "2026-03-31"),
        (None, "latest"),
        ("  ", "latest"),
        ("2026-03-31" + "X" * 10_000, "invalid-census-date"),
        ("Jane Doe", "invalid-census-date"),
        ("2026-03-31\nnis-E08000012-2026-03-31", "invalid-census-date"),
    ],
)
def test_run_names_carry_a_census_dates_shape_only(typed: str | None, label: str) -> None:
    from flows.naming import census_label

    assert census_label(typed) == label


def test_a_local_cluster_starts_no_more_workers_than_councils(tmp_path: Path) -> None:
    sources = _sources(tmp_path / "sources", "bolton", "wirral")
    plan = plan_hub("2026-03-31", sources, None, tmp_path / "out", 12, None)
    assert plan.workers == 2
    assert plan.notes[-1] == "note: 12 workers asked for 2 councils: 2 started"
    assert plan_hub("2026-03-31", sources, None, tmp_path / "out", 1, None).workers == 1
    # An existing cluster's workers are its own: the number is not used, nor said.
    remote = plan_hub("2026-03-31", sources, None, tmp_path / "out", 12, "tcp://10.0.0.5:8786")
    assert remote.workers == 12 and not any("workers asked" in n for n in remote.notes)
