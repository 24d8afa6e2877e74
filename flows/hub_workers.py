"""Whether the Dask workers can run a council, asked once the cluster is reached and before any
council is sent to it.

A worker that cannot load the council task (the pipeline not installed where it runs, or the
flow loaded from a file the workers cannot import) does not fail it: Dask logs the error on the
worker and the task stays "processing", so ``nis hub`` waited for ever, silently (Dask's own log
lines are for ``--verbose``). A scheduler without workers kept it waiting too. And a worker with
another version of the pipeline would write files that differ from what ``nis run`` writes. Each
of these now stops the hub at once, in one line, before anything is written.

Nothing here imports Dask: the caller passes its client in.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping
from typing import Any

from flows.hub_plan import address_host

PACKAGE = "nis-pipeline"
# How long an existing scheduler is given for its first worker to join (workers started at the
# same time as the scheduler, by a script, join a few seconds after it).
WORKERS_JOIN_SECONDS = 30.0


def pipeline_version() -> str:
    """This pipeline's installed version ("" when it runs uninstalled, from a checkout)."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return ""


def council_task_probe(task_pickle: bytes) -> Callable[[], tuple[str, str]]:
    """A function for ``Client.run``: on each worker, load the pickled council task as Dask will
    (the error's type name, "" when it loads) and read the pipeline's version there.

    Made inside this function so that Dask sends it by value (pickle cannot name a local
    function, so Dask uses cloudpickle): a worker without the pipeline can still run it."""

    def probe() -> tuple[str, str]:
        import importlib.metadata
        import pickle

        try:
            version = importlib.metadata.version(PACKAGE)
        except Exception:
            version = ""
        try:
            pickle.loads(task_pickle)
        except Exception as exc:
            return type(exc).__name__, version
        return "", version

    return probe


def workers_problem(answers: Mapping[str, tuple[str, str]], ours: str) -> str | None:
    """Why the workers that answered cannot write a council as ``nis run`` would, or None.

    ``answers``: each worker's address and what the probe found there (error type, version)."""
    if not answers:
        return "the Dask cluster has no workers"
    broken = sorted(address for address, (error, _) in answers.items() if error)
    install = f"install this pipeline ({PACKAGE} {ours or 'from this checkout'}) on every worker"
    if broken:
        first = broken[0]
        return (
            f"{len(broken)} of the Dask cluster's {len(answers)} workers cannot load the council "
            f"task ({answers[first][0]} on {address_host(first)} ...): {install}, or run the "
            "hub's flow from its package (flows.hub), see docs/prefect.md"
        )
    other = sorted(address for address, (_, version) in answers.items() if version != ours)
    if other:
        first = other[0]
        theirs = answers[first][1] or "none installed"
        return (
            f"{len(other)} of the Dask cluster's {len(answers)} workers run {PACKAGE} {theirs} "
            f"({address_host(first)} ...), this command {ours or 'none installed'}: their "
            f"councils' files could differ from what nis run writes; {install}"
        )
    return None


def wait_for_a_worker(client: Any, scheduler: str | None) -> str | None:
    """Give an existing scheduler without workers :data:`WORKERS_JOIN_SECONDS` for one to join;
    why the hub cannot run when none does, or None. (A local cluster starts with its own.)"""
    if not scheduler or client.scheduler_info().get("workers"):
        return None
    try:
        client.wait_for_workers(1, timeout=WORKERS_JOIN_SECONDS)
    except TimeoutError:
        return (
            f"the Dask scheduler at {scheduler} has no workers (none joined within "
            f"{WORKERS_JOIN_SECONDS:.0f} s): start them (dask worker {scheduler})"
        )
    return None


def check_workers(client: Any, task: Any) -> str | None:
    """Ask the cluster's workers whether they can run ``task`` (the council task): why not, or
    None."""
    import cloudpickle

    answers = client.run(council_task_probe(cloudpickle.dumps(task)))
    return workers_problem(answers, pipeline_version())
