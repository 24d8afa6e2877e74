"""The ``nis`` command: synth, validate, run, backfill, hub, package, research-extract and purge.

A user's mistake (a missing file, a bad date, a bad config) ends with one line on stderr and
exit code 2, never a traceback. Every command that reads the extracts or writes under OUT (run,
backfill, hub, research-extract, purge) appends one line to ``OUT/audit.jsonl`` when it ends,
whatever the outcome (``nis_pipeline.audit_scope.audited``).
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from exports.plural import counted
from flows.startup_gc import startup_imports
from nis_pipeline import terminate
from nis_pipeline.stdout_gone import keep_going_when_the_reader_leaves

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: option metavars as written here, no <bool> on flags
    help="Produce National Impact Study submissions from a council's case extracts.",
)

SourceOpt = Annotated[
    Path | None,
    typer.Option("--source", metavar="DIR", help="Folder holding the ten case extracts"),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", metavar="FILE", help="TOML config file (nis.toml)")
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out", metavar="DIR", help="Root folder for submissions (default ./submissions)"
    ),
]
# --replace of the commands that write several submissions (backfill, hub).
ReplaceAllOpt = Annotated[
    bool,
    typer.Option(
        "--replace",
        metavar="",
        help=(
            "Replace finished submissions made from other inputs or settings (the old ones are "
            "kept)"
        ),
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option("--verbose", "-v", metavar="", help="Show Prefect's own log lines as it runs"),
]


def _quiet_prefect() -> None:
    """For the commands that run no flow but may load a Prefect Secret block (a database
    password, the pseudonymisation key): Prefect's defaults set before it is imported."""
    from flows.local_server import quiet_defaults

    quiet_defaults(verbose=False)


def _start_prefect_api(verbose: bool) -> None:
    """For the commands that run flows: start the temporary Prefect API (unless a server is
    configured) before importing the pipeline, so both start at once (flows.local_server)."""
    from flows.local_server import quiet_defaults, start_temporary_api

    quiet_defaults(verbose)
    start_temporary_api()


def _fail(message: str) -> typer.Exit:
    from schemas.errors import ExitCode

    typer.echo(f"error: {message}", err=True)
    return typer.Exit(ExitCode.FATAL)


@app.command()
def synth(
    families: Annotated[
        int, typer.Option("--families", metavar="N", min=1, help="Number of families")
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder to write the ten extracts into")
    ],
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Random seed: same seed, same files")
    ] = 1,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", metavar="FORMAT", help="csv, xlsx or parquet", case_sensitive=False
        ),
    ] = "csv",
    defects: Annotated[
        float,
        typer.Option(
            "--defects", metavar="RATE", min=0.0, max=1.0, help="Share of rows to corrupt"
        ),
    ] = 0.0,
) -> None:
    """Write synthetic extracts (invented people only) for demos, tests and benchmarks."""
    from synth.generate import write_synthetic

    fmt = fmt.lower()
    if fmt not in ("csv", "xlsx", "parquet"):
        raise _fail(f"--format must be csv, xlsx or parquet, not {fmt}")
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out} is a file, not a folder")
    try:
        summary = write_synthetic(out, families=families, seed=seed, fmt=fmt, defects=defects)
    except ValueError as exc:  # e.g. more rows than an xlsx sheet holds
        raise _fail(str(exc)) from None
    except OSError as exc:  # a read-only folder, a full disk
        raise _fail(
            f"cannot write the extracts to {out}: {exc.strerror or type(exc).__name__}"
        ) from None
    typer.echo(f"wrote {counted(families, 'family', 'families')} of synthetic extracts to {out}")
    for name, rows in summary.rows.items():
        typer.echo(f"  {name:<26}{rows:>10} rows")
    if summary.ledger is not None:
        typer.echo(f"defects ledger: {summary.ledger}")


def _crashed(command: str, exc: Exception) -> typer.Exit:
    """A command that keeps no audit line failed unexpectedly (a bug, or the machine): one line
    with the error's type and place, as the audited commands say it, and no traceback, whose
    message could quote a cell of the extracts."""
    from nis_pipeline.audit_scope import interrupt_behind, where_raised
    from schemas.errors import ExitCode

    interrupt = interrupt_behind(exc)
    if isinstance(interrupt, terminate.Terminated):
        return typer.Exit(terminate.TERMINATED_EXIT)  # stopped by SIGTERM, not failed
    if interrupt is not None:
        raise interrupt from None  # stopped by Ctrl-C: exit 130
    typer.echo(f"error: nis {command} failed unexpectedly: {where_raised(exc)}", err=True)
    return typer.Exit(ExitCode.FAILED)


@app.command()
def validate(
    source: SourceOpt = None,
    config: ConfigOpt = None,
    report: Annotated[
        Path,
        typer.Option("--report", metavar="FILE", help="Where to write the validation report"),
    ] = Path("validation_report.xlsx"),
) -> None:
    """Read and validate the extracts; write the validation report.

    Exit 0 when a run may proceed, 1 when too many people rows are quarantined, 2 on a fatal
    problem.
    """
    _quiet_prefect()
    with startup_imports():
        from flows.commands import validate_command

    try:
        code = validate_command(source, config, report)
    except Exception as exc:
        raise _crashed("validate", exc) from None
    raise typer.Exit(code)


@app.command()
def columns(source: SourceOpt = None, config: ConfigOpt = None) -> None:
    """Show how each extract's headers map to the contract's columns: the column each header
    gives, the headers the contract does not know (with the column each most likely means and
    the column_map line to add), and the contract columns missing.

    Exit 0 when every required column is found, 2 otherwise.
    """
    _quiet_prefect()
    with startup_imports():
        from flows.commands import columns_command

    try:
        code = columns_command(source, config)
    except Exception as exc:
        raise _crashed("columns", exc) from None
    raise typer.Exit(code)


@app.command()
def run(
    census: Annotated[
        str,
        typer.Option(
            "--census", metavar="YYYY-MM-DD", help="Census date: 31 March or 30 September"
        ),
    ],
    source: SourceOpt = None,
    config: ConfigOpt = None,
    out: OutOpt = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            metavar="",
            help="Replace a finished submission made from other inputs or settings (the old one "
            "is kept beside it as CENSUS.replaced-N)",
        ),
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Validate, compute and write the submission for one census date.

    Exit 0 when written (or already up to date), 1 when the quarantine threshold is exceeded or
    a finished submission from other inputs is in the way (use --replace), 2 on a mistake in the
    extracts, the config or the arguments.
    """
    _start_prefect_api(verbose)
    with startup_imports():
        from flows.commands import run_command
    from nis_pipeline.audit_scope import audited

    with audited("run", config=config, out=out) as audit:
        audit.record.census = census
        audit.try_settings(config, source_path=source, output_dir=out)
        raise typer.Exit(
            run_command(census, source, config, out, replace, verbose, observer=audit.observe_run)
        )


@app.command()
def backfill(
    from_census: Annotated[
        str, typer.Option("--from", metavar="YYYY-MM-DD", help="First census date")
    ],
    to_census: Annotated[str, typer.Option("--to", metavar="YYYY-MM-DD", help="Last census date")],
    source: SourceOpt = None,
    config: ConfigOpt = None,
    out: OutOpt = None,
    replace: ReplaceAllOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write one submission per census date in a range, oldest first, reading and validating
    the extracts once. Periods already written from the same inputs are skipped.

    Exit 0 when every period is written or up to date, 1 when a period failed (the others are
    still written), 2 on a mistake in the extracts, the config or the arguments.
    """
    _start_prefect_api(verbose)
    with startup_imports():
        from flows.commands import backfill_command
    from nis_pipeline.audit_scope import audited

    with audited("backfill", config=config, out=out) as audit:
        audit.record.census = f"{from_census}/{to_census}"  # an ISO 8601 interval
        audit.try_settings(config, source_path=source, output_dir=out)
        code = backfill_command(
            from_census,
            to_census,
            source,
            config,
            out,
            replace,
            verbose,
            observer=audit.observe_run,
        )
        raise typer.Exit(code)


@app.command()
def hub(
    census: Annotated[
        str,
        typer.Option(
            "--census", metavar="YYYY-MM-DD", help="Census date: 31 March or 30 September"
        ),
    ],
    sources: Annotated[
        Path,
        typer.Option(
            "--sources", metavar="DIR", help="Folder holding one folder of extracts per council"
        ),
    ],
    out: OutOpt = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="TOML config shared by every council (its la_code and [source] are not used)",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="N",
            help="Worker processes of the local Dask cluster (one thread each)",
        ),
    ] = 2,  # flows.hub_plan.DEFAULT_WORKERS (not imported here: --help stays quick)
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="Run on an existing Dask cluster: its scheduler's address (tcp://HOST:8786)",
        ),
    ] = None,
    replace: ReplaceAllOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write the submission of one census date for every council of a hub, in parallel on a
    Dask cluster: each council's folder under OUT/{la_code}/{census}/, as nis run writes it.

    Exit 0 when every council is written or up to date, 1 when a council failed (the others are
    still written), 2 when nothing could run (no council folders, a bad argument or config, a
    scheduler that does not answer).
    """
    _start_prefect_api(verbose)
    with startup_imports():
        from flows.commands import hub_command
    from nis_pipeline.audit_scope import audited
    from nis_pipeline.hub_facts import hub_observer

    with audited("hub", config=config, out=out) as audit:
        audit.record.census = census
        audit.try_settings(config, output_dir=out)
        audit.keep_out_of(sources)
        audit.record.la_code = None  # many councils: each is named under "councils"
        code = hub_command(
            census,
            sources,
            config,
            out,
            workers,
            scheduler,
            replace,
            verbose,
            observer=hub_observer(audit, config, out),
        )
        raise typer.Exit(code)


@app.command("research-extract")
def research_extract(
    census: Annotated[
        str, typer.Option("--census", metavar="YYYY-MM-DD", help="Census date of the period")
    ],
    source: SourceOpt = None,
    config: ConfigOpt = None,
    out: OutOpt = None,
) -> None:
    """Write the pseudonymised research extract of one census date.

    The key comes from the environment variable NIS_PSEUDONYM_KEY, or else from the Prefect
    Secret block named by pseudonym_secret in the config; never from the config file itself.
    """
    _quiet_prefect()
    from nis_pipeline.audit_scope import audited
    from nis_pipeline.research_command import research_command

    with audited("research-extract", config=config, out=out) as audit:
        raise typer.Exit(research_command(census, source, config, out, audit))


@app.command()
def purge(
    before: Annotated[
        str,
        typer.Option("--before", metavar="YYYY-MM-DD", help="Remove census dates before this date"),
    ],
    config: ConfigOpt = None,
    out: OutOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", metavar="", help="List what would be removed; remove nothing"),
    ] = False,
) -> None:
    """Remove the census folders (and what is kept beside them) of census dates before a date."""
    from nis_pipeline.audit_scope import audited
    from nis_pipeline.purge_command import purge_command

    with audited("purge", config=config, out=out) as audit:
        audit.try_settings(config, output_dir=out)
        audit.refuse_missing_out()
        raise typer.Exit(purge_command(before, config, out, dry_run, audit))


@app.command()
def package(
    census: Annotated[
        str, typer.Option("--census", metavar="YYYY-MM-DD", help="Census date of the submission")
    ],
    config: ConfigOpt = None,
    out: OutOpt = None,
    recipient: Annotated[
        str | None,
        typer.Option("--recipient", metavar="KEY", help="Encrypt to this age public key (age1...)"),
    ] = None,
) -> None:
    """Build the transfer package of a finished submission: the files that may be sent, in one
    zip under OUT/{la_code}/{census}/transfer/ (encrypted to --recipient when given).

    Exit 0 printing the path written; 1 when the disk refuses the write (full, read-only); 2
    with one line when the submission is missing, failed, or altered since it was written, or an
    argument is wrong.
    """
    with startup_imports():
        from flows.commands import package_command
    from nis_pipeline.audit_scope import audited

    with audited("package", config=config, out=out) as audit:
        audit.record.census = census
        audit.try_settings(config, output_dir=out)
        audit.refuse_missing_out()
        audit.council_under_out()
        raise typer.Exit(
            package_command(census, config, out, recipient, written=audit.record_package)
        )


@app.command()
def alerts(
    block: Annotated[
        str,
        typer.Option(
            "--block",
            metavar="TYPE/NAME",
            help="The notification block to alert through, e.g. slack-webhook/nis-alerts",
        ),
    ],
    automations: Annotated[
        Path | None,
        typer.Option(
            "--from-file", metavar="FILE", help="The automations (default automations.yaml)"
        ),
    ] = None,
) -> None:
    """Create (or update) the pipeline's alerts on the Prefect server: a failed NIS run, a late
    or unfinished six-monthly run, and a work pool without a worker.

    Exit 0 when every automation is in place, 2 when the server or block is not set up.
    """
    with startup_imports():
        from flows.commands import alerts_command

    raise typer.Exit(alerts_command(block, automations))


def main() -> None:
    """The ``nis`` console script."""
    leave_out_hypothesis()
    keep_going_when_the_reader_leaves()
    terminate.end_on_sigterm_as_on_ctrl_c()
    try:
        app()
    except SystemExit as exc:
        if isinstance(exc.code, int):
            code = terminate.exit_code(exc.code)
            line = terminate.stopped_line(code, sys.argv[1:])
            if line is not None:
                print(line, file=sys.stderr)
                _end_now_if_reading(code)
            raise SystemExit(code) from None
        raise
    finally:
        # The interpreter's last garbage collection at exit walks every object a run made
        # (Prefect's models, pandas', pyarrow's): most of a second after the work is done, for
        # memory the process hands back anyway. Frozen objects are left out of it.
        gc.freeze()


def _end_now_if_reading(code: int) -> None:
    """End an interrupted command without waiting for a read ahead still going: its clean-up
    is done and its audit line written, and the interpreter would otherwise wait at exit for the
    reading threads, which cannot be stopped part way (a workbook read by calamine is one call):
    up to half a minute at 85,000 families from workbooks."""
    read_ahead = sys.modules.get("flows.read_ahead")
    if read_ahead is None or not read_ahead.reads_under_way():
        return
    # What the interpreter's exit would still have done that matters: a temporary API that no
    # run took (stopped before its flow began) is stopped, as its exit hook does.
    local_server = sys.modules.get("flows.local_server")
    if local_server is not None:
        local_server.stop_early_api()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def leave_out_hypothesis() -> None:
    """Keep Hypothesis out of a command's process. pandera's checks import its data-synthesis
    strategies, which load Hypothesis wherever it is installed (this checkout's virtualenv has it
    for the tests): a fifth of a second of CPU in every validation, for data generation no
    command does. pandera reads the import's failure as "not installed". Left alone where it is
    already imported (a test calling ``main`` in its own process)."""
    sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]  # None blocks an import


if __name__ == "__main__":  # pragma: no cover
    main()
