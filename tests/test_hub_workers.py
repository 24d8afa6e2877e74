"""Whether a hub's Dask workers can write a council as ``nis run`` would: the decision on their
answers (hand-worked messages), and the probe each worker runs, here in this process and in
another interpreter. (On a real cluster: tests/flows/test_flows_hub_workers.py.)"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pickle
import subprocess
import sys

import cloudpickle
import pytest

from flows.hub_workers import council_task_probe, pipeline_version, workers_problem

OURS = "0.1.0"


def test_workers_that_all_load_the_task_in_our_version_are_fine() -> None:
    answers = {"tcp://10.0.0.7:4000": ("", OURS), "tcp://10.0.0.8:4100": ("", OURS)}
    assert workers_problem(answers, OURS) is None


def test_the_workers_that_cannot_load_the_task_are_counted_and_the_first_named() -> None:
    answers = {
        "tcp://10.0.0.9:4200": ("AttributeError", OURS),
        "tcp://10.0.0.7:4000": ("", OURS),
        "tcp://10.0.0.8:4100": ("ModuleNotFoundError", ""),
    }
    assert workers_problem(answers, OURS) == (
        "2 of the Dask cluster's 3 workers cannot load the council task (ModuleNotFoundError on "
        "10.0.0.8 ...): install this pipeline (nis-pipeline 0.1.0) on every worker, or run the "
        "hub's flow from its package (flows.hub), see docs/prefect.md"
    )


def test_a_worker_with_another_version_is_named_before_any_council_is_sent() -> None:
    answers = {
        "tcp://10.0.0.7:4000": ("", OURS),
        "tcp://10.0.0.9:4200": ("", ""),
        "tcp://10.0.0.8:4100": ("", "0.0.9"),
    }
    assert workers_problem(answers, OURS) == (
        "2 of the Dask cluster's 3 workers run nis-pipeline 0.0.9 (10.0.0.8 ...), this command "
        "0.1.0: their councils' files could differ from what nis run writes; install this "
        "pipeline (nis-pipeline 0.1.0) on every worker"
    )


def test_a_checkout_without_an_installed_version_says_so() -> None:
    answers = {"tcp://10.0.0.8:4100": ("", OURS)}
    assert workers_problem(answers, "") == (
        "1 of the Dask cluster's 1 workers run nis-pipeline 0.1.0 (10.0.0.8 ...), this command "
        "none installed: their councils' files could differ from what nis run writes; install "
        "this pipeline (nis-pipeline from this checkout) on every worker"
    )
    # Neither installed (a checkout on every machine): the same code, as far as can be told.
    assert workers_problem({"tcp://10.0.0.8:4100": ("", "")}, "") is None


def test_no_answer_is_no_cluster_to_run_on() -> None:
    assert workers_problem({}, OURS) == "the Dask cluster has no workers"


def test_the_probe_loads_the_task_and_reads_the_version() -> None:
    from flows.hub import write_council

    assert pipeline_version() == importlib.metadata.version("nis-pipeline")
    found = council_task_probe(cloudpickle.dumps(write_council))()
    assert found == ("", pipeline_version())
    # A task pickled by a name this interpreter cannot import.
    missing = pickle.dumps(json.dumps).replace(b"json", b"nojs")
    assert council_task_probe(missing)()[0] == "ModuleNotFoundError"
    assert council_task_probe(b"not a pickle")()[0] == "UnpicklingError"


_WITHOUT_THE_PIPELINE = """
import pickle, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
try:
    import flows
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("the pipeline is still importable")
probe = pickle.loads(sys.stdin.buffer.read())
print(probe())
"""


def test_the_probe_runs_where_the_pipeline_cannot_be_imported() -> None:
    """Dask sends the probe by value (pickle cannot name a function made inside another), so a
    worker without the pipeline still answers, with why it cannot load the task."""
    from flows.hub import write_council

    probe = council_task_probe(cloudpickle.dumps(write_council))
    with pytest.raises((AttributeError, pickle.PicklingError)):
        pickle.dumps(probe)
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_THE_PIPELINE],
        input=cloudpickle.dumps(probe),
        capture_output=True,
        cwd="/",
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=True,
    )
    assert done.stdout.decode().strip() == f"('ModuleNotFoundError', '{pipeline_version()}')"


def test_a_worker_running_from_a_checkout_has_no_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.hub import write_council

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert pipeline_version() == ""
    assert council_task_probe(cloudpickle.dumps(write_council))() == ("", "")
