"""The ``nis_hub`` flow: one census date for many councils at once, on a Dask cluster.

A regional hub holds one folder of extracts per council. Each council is one ``write-council``
task run, submitted through Prefect's ``DaskTaskRunner`` to a Dask cluster: a local one of N
worker processes started for the run (``distributed.LocalCluster``, one thread each, since the
work is pandas and the GIL), or an existing cluster by its scheduler's address. The task reads,
validates, computes and writes that council's submission with the very functions ``nis run``
uses (``prepare_inputs``, ``submit_period``), so each council's folder is byte for byte what
``nis run`` would write. Task parameters are paths and strings only: no frame crosses between
processes, and nothing of the data reaches Prefect's API.

Task runs in the Dask workers report to the same Prefect API as the flow (the settings travel
with each task), so the API must be reachable from the workers: the temporary API that ``nis``
serves on 127.0.0.1 is, for a local cluster; a cluster on other machines needs a real Prefect
server (``PREFECT_API_URL``), and the flow refuses to start without one rather than lose the
councils' runs.

One council failing does not stop the others; the flow ends Failed naming the councils that
failed. A council's task never raises: an unexpected error becomes its one-line reason (type and
place only, see ``flows.results.StageError``), so no Dask or Prefect traceback ever quotes a value.
"""

from __future__ import annotations

import importlib.util
import inspect
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_markdown, publish_validation
from flows.hub_plan import (
    DEFAULT_WORKERS,
    HubInputError,
    check_scheduler,
    families_codes,
    hub_settings,
    plan_hub,
    shared_councils,
    unreachable_api,
)
from flows.hub_results import CouncilFailed, CouncilResult, HubFailed, HubResult
from flows.hub_workers import check_workers, wait_for_a_worker
from flows.naming import census_label
from flows.results import Outcome, StageError
from flows.signals import reraise_signal
from flows.submission import failed, stopped, submit_period
from flows.tasks import prepare_inputs
from schemas.errors import PipelineError
from transforms.periods import Period, parse_census

# Run in each worker process of a local cluster as it starts (a Dask "preload", given as its text).
# The workers share the terminal's process group, so Ctrl-C reached them as well as the command:
# each printed a KeyboardInterrupt traceback after the command had ended. The command stops them
# itself (closing the cluster, on Ctrl-C too), so they leave Ctrl-C to it.
LEAVE_CTRL_C_TO_THE_COMMAND = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"

# The local cluster's dashboard port (Dask's own default), when it is free.
DASHBOARD_PORT = 8787


class HubClusterError(PipelineError):
    """The Dask cluster could not be started or reached."""


@dataclass(frozen=True)
class ClusterInfo:
    """The Dask cluster a hub run uses, for the terminal, the log and the summary."""

    local: bool
    scheduler: str
    workers: tuple[str, ...]
    threads: int
    dashboard: str | None  # None: there is no dashboard to open

    def describe(self) -> str:
        kind = "local cluster" if self.local else "existing cluster"
        n = len(self.workers)
        text = (
            f"Dask {kind} at {self.scheduler}: {n} worker{'s' if n != 1 else ''}, "
            f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        )
        if self.dashboard:
            return f"{text}; dashboard {self.dashboard}"
        return f"{text}; no dashboard (it needs bokeh, which is not installed)"


def bokeh_installed() -> bool:
    return importlib.util.find_spec("bokeh") is not None


def port_free(port: int) -> bool:
    """Whether ``port`` of the loopback interface can be listened on now: bound as a server
    binds it (the connections of a dashboard that has just stopped do not hold it; a socket
    listening on it does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def dashboard_address() -> str:
    """Where a local cluster serves its dashboard: Dask's usual port, or any free one when that
    is taken (another hub, a notebook's cluster). Dask would take another port itself, but with
    a warning on the terminal; the port it took is in the line naming the cluster either way.
    Without bokeh (which the dashboard needs) the scheduler still serves a page saying so; a
    free port then, so that the port of a real dashboard elsewhere on the machine is left alone.
    """
    if bokeh_installed() and port_free(DASHBOARD_PORT):
        return f"127.0.0.1:{DASHBOARD_PORT}"
    return "127.0.0.1:0"


def keep_package_folders_off_sys_path() -> None:
    """Take this project's package folders (``flows/``, ``schemas/`` ...) off ``sys.path``.

    Prefect puts the folder of a file-path entrypoint (``flows/hub.py``) on ``sys.path`` and
    leaves it there; the Dask worker processes of a local cluster start with the flow process's
    ``sys.path``, and there ``flows/secrets.py`` shadows the standard library's ``secrets`` (numpy
    cannot even start). A package's own folder never belongs on the path: its modules are reached
    by the package's name.
    """
    root = Path(__file__).resolve().parents[1]

    def inside_package(entry: str) -> bool:
        folder = Path(entry or ".").resolve()
        return folder.parent == root and (folder / "__init__.py").is_file()

    sys.path[:] = [entry for entry in sys.path if not inside_package(entry)]


def send_this_module_by_value() -> None:
    """Loaded from its file (a deployment's entrypoint), this module is not ``flows.hub`` but a
    module the workers cannot import by name (``hub``, once its folder is off the path); Dask
    then sends the flow and the council task that it defines by value instead."""
    if __name__ != "flows.hub":
        import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])


def hub_task_runner(workers: int = DEFAULT_WORKERS, scheduler: str | None = None) -> Any:
    """The Dask task runner of a hub run: the cluster at ``scheduler``, or a local cluster of
    ``workers`` processes of one thread each, its scheduler and dashboard on the loopback
    interface only (the dashboard shows task names, and a hub's machine is no public server)."""
    from prefect_dask import DaskTaskRunner

    if scheduler:
        return DaskTaskRunner(address=scheduler)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": dashboard_address(),
            "preload": [LEAVE_CTRL_C_TO_THE_COMMAND],
        },
    )


def cluster_info(client: Any, local: bool) -> ClusterInfo:
    info = client.scheduler_info()
    workers = info.get("workers", {})
    dashboard = client.dashboard_link if (bokeh_installed() or not local) else None
    return ClusterInfo(
        local=local,
        scheduler=str(info.get("address") or client.scheduler.address),
        workers=tuple(sorted(workers)),
        threads=sum(int(w.get("nthreads", 0)) for w in workers.values()),
        dashboard=dashboard or None,
    )


def _api_url() -> str:
    from prefect.settings import get_current_settings

    return str(get_current_settings().api.url or "")


async def flush_worker_logs() -> None:
    """Run on each Dask worker once its councils are done (in the worker's event loop, where
    Prefect's drains are awaitables): send the task runs' last log lines and events to the API
    before the cluster (or this run's temporary API) goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        pending = service.drain_all(timeout=30, at_exit=False)
        if inspect.isawaitable(pending):
            await pending


def run_council(
    label: str,
    source_path: str,
    census_date: str,
    config_path: str | None,
    output_dir: str,
    replace: bool,
    logger: Any,
) -> CouncilResult:
    """One council's period, as ``nis run`` writes it; never raises."""
    try:
        settings = hub_settings(config_path, source_path, output_dir)
        period = Period(parse_census(census_date))
        logger.info("%s: census date %s, extracts in %s", label, period, source_path)
        prepared = prepare_inputs(settings, logger)
    except PipelineError as exc:  # (a hub reads folders of files: no database to lose)
        logger.error("%s: stopped before its period ran: %s", label, exc)
        return CouncilResult(label, source_path, Outcome.FAILED, message=str(exc))
    except Exception as exc:
        error = StageError(f"council {label}", exc)
        logger.error("%s: %s", label, error)
        return CouncilResult(label, source_path, Outcome.FAILED, message=str(error))
    la = prepared.la_code
    try:
        counts = prepared.validation.counts
        publish_validation(la, period.label, counts, prepared.validation.top_rules(10))
        outcome = submit_period(prepared, period, replace, logger)
    except Exception as exc:  # submit_period reports the expected failures itself
        error = StageError(f"council {label} ({la})", exc)
        logger.error("%s: %s", label, error)
        return CouncilResult(
            label, source_path, Outcome.FAILED, la_code=la, inputs=prepared.summary(),
            message=str(error),
        )  # fmt: skip
    return CouncilResult(
        label,
        source_path,
        outcome.outcome,
        la_code=la,
        period=outcome,
        inputs=prepared.summary(),
        message=outcome.message,
    )


def _council_codes(client: Any, plan: Any) -> dict[str, tuple[str, ...]]:
    config = str(plan.config) if plan.config else None
    folders = [str(folder) for folder in plan.councils]
    try:
        futures = client.map(
            families_codes, folders, config_path=config, output_dir=str(plan.output_dir),
            pure=False,
        )  # fmt: skip
        found = client.gather(futures)
    except Exception as exc:  # a worker gone: each council's own run says what it can
        reraise_signal(exc)
        found = [()] * len(folders)
    return {folder.name: tuple(codes) for folder, codes in zip(plan.councils, found, strict=True)}


@task(
    name="write-council",
    task_run_name="council-{label}-{census_date}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def write_council(
    label: str,
    source_path: str,
    census_date: str,
    config_path: str | None,
    output_dir: str,
    replace: bool,
) -> Any:
    """One council of a hub run, in a Dask worker; ends Failed when the council did."""
    result = run_council(
        label, source_path, census_date, config_path, output_dir, replace, get_run_logger()
    )
    if not result.outcome.ok:
        return failed(CouncilFailed(result))
    return result


def _collected(label: str, source: str, future: Any) -> CouncilResult:
    """What a council's task handed back, whatever became of it."""
    try:
        outcome = future.result(raise_on_failure=False)
    except Exception as exc:  # the worker died under it (Dask gave up: KilledWorker)
        reraise_signal(exc)  # or the hub was stopped while it waited
        outcome = exc
    if isinstance(outcome, CouncilFailed):
        return outcome.council
    if isinstance(outcome, CouncilResult):
        return outcome
    return CouncilResult(
        label, source, Outcome.FAILED, message=f"its task crashed: {type(outcome).__name__}"
    )


def hub_markdown(result: HubResult) -> str:
    """The Prefect summary artifact of a hub run: one line per council."""
    lines = [f"# NIS hub {result.census}", "", f"- {result.cluster}", ""]
    lines += ["| council folder | la_code | outcome | folder | note |", "|---|---|---|---|---|"]
    for c in result.councils:
        note = c.message.replace("|", "/")
        lines.append(
            f"| {c.label} | {c.la_code or '-'} | {c.outcome.value} | {c.folder or '-'} | {note} |"
        )
    return "\n".join(lines)


def _hub_run_name() -> str:
    from prefect.runtime import flow_run

    return f"nis-hub-{census_label(flow_run.parameters.get('census_date'))}"


@flow(
    name="nis-hub",
    flow_run_name=_hub_run_name,
    persist_result=False,
    description="Write the NIS submission of one census date for every council of a hub, in "
    "parallel on a Dask cluster.",
)
def nis_hub(
    census_date: str,
    sources_path: str,
    config_path: str | None = None,
    output_dir: str | None = None,
    workers: int = DEFAULT_WORKERS,
    scheduler: str | None = None,
    replace: bool = False,
) -> Any:
    """Write each council's submission of one census date under OUT/{la_code}/{census}/.

    Args:
        census_date: Census date, YYYY-MM-DD: 31 March or 30 September (e.g. 2026-03-31).
        sources_path: Folder holding one folder of extracts per council (each as for nis run);
            the council is the la_code of its families extract, the folder name only a label.
        config_path: TOML config shared by every council (threshold, column map, extract date,
            output folder); its la_code and [source] are not used.
        output_dir: Root folder for the submissions (default: the config's output_dir).
        workers: Worker processes of the local Dask cluster started for the run (one thread
            each); not used with a scheduler.
        scheduler: Address of an existing Dask scheduler (tcp://HOST:8786) instead of a local
            cluster; its workers need this pipeline installed, the same paths, and a Prefect
            server they can reach (PREFECT_API_URL).
        replace: Replace finished submissions made from other inputs or settings (the old ones
            are kept beside them as CENSUS.replaced-N).
    """
    from flows.run_audit import note_flow_run

    note_flow_run()  # for the audit line, should the command be interrupted
    try:
        return run_hub(
            census_date, sources_path, config_path, output_dir, workers, scheduler, replace
        )
    except Exception as exc:
        reraise_signal(exc)  # a Ctrl-C or SIGTERM that a library wrapped still stops the run
        raise


def run_hub(
    census_date: str,
    sources_path: str,
    config_path: str | None,
    output_dir: str | None,
    workers: int,
    scheduler: str | None,
    replace: bool,
) -> Any:
    """The body of :func:`nis_hub`."""
    logger = get_run_logger()
    try:
        plan = plan_hub(census_date, sources_path, config_path, output_dir, workers, scheduler)
        if plan.scheduler:
            check_scheduler(plan.scheduler)
    except PipelineError as exc:
        return stopped(logger, exc)
    for note in plan.notes:
        logger.warning("%s", note)
    logger.info(
        "Hub run %s: %d council folders in %s", plan.census, len(plan.councils), plan.sources
    )
    keep_package_folders_off_sys_path()
    send_this_module_by_value()
    runner = hub_task_runner(plan.workers, plan.scheduler)
    try:
        with runner:
            try:
                client = runner.client  # starts the local cluster, or connects to the scheduler
            except Exception as exc:
                reraise_signal(exc)
                where = plan.scheduler or "a local cluster"
                raise HubClusterError(
                    f"the Dask cluster ({where}) could not be started or reached: "
                    f"{type(exc).__name__}"
                ) from None
            problem = wait_for_a_worker(client, plan.scheduler)
            if problem is not None:
                raise HubInputError(problem)
            cluster = cluster_info(client, local=plan.scheduler is None)
            # The terminal of `nis hub` (and the worker's log of a deployment run) says which
            # cluster runs the councils and where to watch it.
            print(cluster.describe(), flush=True)
            logger.info("%s", cluster.describe())
            problem = unreachable_api(_api_url(), list(cluster.workers))
            if problem is not None:
                raise HubInputError(problem)
            # Workers that cannot load the council task leave it waiting for ever: ask first.
            try:
                problem = check_workers(client, write_council)
            except Exception as exc:
                reraise_signal(exc)
                raise HubClusterError(
                    f"the Dask cluster's workers could not be asked whether they can run a "
                    f"council: {type(exc).__name__}"
                ) from None
            if problem is not None:
                raise HubInputError(problem)
            # Two folders of one council would write the same OUT/{la_code}/{census}/, and whose
            # submission stood (or which failed, "another run is writing") would depend on which
            # worker came first; with --replace one silently replaced the other. Neither is
            # written: which is right is the hub's to say.
            shared = shared_councils(_council_codes(client, plan))
            held = {
                label: CouncilResult(
                    label,
                    str(plan.sources / label),
                    Outcome.FAILED,
                    la_code=code,
                    message=f"folders {', '.join(labels)} all hold council {code}: none of them "
                    "is written; keep one folder per council",
                )  # fmt: skip
                for label, (code, labels) in shared.items()
            }
            submitted = [
                (
                    folder,
                    runner.submit(
                        write_council,
                        parameters={
                            "label": folder.name,
                            "source_path": str(folder),
                            "census_date": plan.census,
                            "config_path": str(plan.config) if plan.config else None,
                            "output_dir": str(plan.output_dir),
                            "replace": replace,
                        },
                    ),
                )
                for folder in plan.councils
                if folder.name not in held
            ]
            collected = {f.name: _collected(f.name, str(f), fut) for f, fut in submitted}
            councils = tuple(
                held.get(folder.name) or collected[folder.name] for folder in plan.councils
            )
            try:
                client.run(flush_worker_logs)
            except Exception as exc:  # a worker gone: its logs are lost, the files are not
                reraise_signal(exc)
                logger.warning("Could not flush the Dask workers' logs to the Prefect API")
    except PipelineError as exc:
        return stopped(logger, exc)
    result = HubResult(census=plan.census, councils=councils, cluster=cluster.describe())
    for council in result.councils:
        logger.info("%s", council.line())
    for la, labels in result.repeated_councils().items():
        logger.warning("Folders %s all hold council %s", ", ".join(labels), la)
    publish_markdown(hub_markdown(result), ("nis-hub", plan.census), f"NIS hub {plan.census}")
    if result.failed:
        return failed(HubFailed(result))
    logger.info("Hub run done: %d councils", len(result.councils))
    return result
