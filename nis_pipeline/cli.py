"""The ``nis`` command: synth, validate, run and backfill.

A user's mistake (a missing file, a bad date, a bad config) ends with one line on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from nis_pipeline.settings import ConfigError, Settings, load_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Produce National Impact Study submissions from a council's case extracts.",
)

EXIT_OK, EXIT_THRESHOLD, EXIT_FATAL = 0, 1, 2

SourceOpt = Annotated[
    Path | None, typer.Option("--source", help="Folder holding the ten case extracts")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML config file")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Root folder for submissions (default ./submissions)")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_FATAL)


@app.command()
def synth(
    families: Annotated[int, typer.Option("--families", min=1, help="Number of families")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the ten extracts into")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same files")] = 1,
    fmt: Annotated[
        str, typer.Option("--format", help="csv, xlsx or parquet", case_sensitive=False)
    ] = "csv",
    defects: Annotated[
        float, typer.Option("--defects", min=0.0, max=1.0, help="Share of rows to corrupt")
    ] = 0.0,
) -> None:
    """Write synthetic extracts (invented people only) for demos, tests and benchmarks."""
    from synth.generate import write_synthetic

    fmt = fmt.lower()
    if fmt not in ("csv", "xlsx", "parquet"):
        raise _fail(f"--format must be csv, xlsx or parquet, not {fmt}")
    try:
        summary = write_synthetic(out, families=families, seed=seed, fmt=fmt, defects=defects)
    except ValueError as exc:  # e.g. more rows than an xlsx sheet holds
        raise _fail(str(exc)) from None
    typer.echo(f"wrote {families} families of synthetic extracts to {out}")
    for name, rows in summary.rows.items():
        typer.echo(f"  {name:<26}{rows:>10} rows")
    if summary.ledger is not None:
        typer.echo(f"defects ledger: {summary.ledger}")


@app.command()
def validate(
    source: SourceOpt = None,
    config: ConfigOpt = None,
    report: Annotated[
        Path, typer.Option("--report", help="Where to write the validation report")
    ] = Path("validation_report.xlsx"),
) -> None:
    """Read and validate the extracts; write the validation report.

    Exit 0 when a run may proceed, 1 when too many people rows are quarantined, 2 on a fatal
    problem.
    """
    from exports.validation_report import write_validation_report
    from extracts.reader import read_extracts
    from nis_pipeline.summary import validation_summary
    from schemas.rules import FatalInputError
    from schemas.validation import validate as run_validation

    try:
        settings = load_settings(config, source_path=source)
        raw = read_extracts(settings, _database_password(settings))
    except (ConfigError, FatalInputError, ConnectionError) as exc:
        raise _fail(str(exc)) from None
    result = run_validation(raw, settings.resolved_extract_date())
    try:
        write_validation_report(result.findings, result.counts, report)
    except OSError as exc:
        raise _fail(f"cannot write {report}: {exc.strerror}") from None
    for line in validation_summary(result, settings.quarantine_threshold):
        typer.echo(line)
    typer.echo(f"validation report: {report}")
    if result.exceeds(settings.quarantine_threshold):
        raise typer.Exit(EXIT_THRESHOLD)


def _database_password(settings: Settings) -> str | None:
    if settings.source.url is None:
        return None
    from flows.db_password import database_password

    secret = database_password(settings.source.password_env, settings.source.password_secret)
    return secret.get_secret_value() if secret is not None else None


@app.command()
def run(
    census: Annotated[str, typer.Option("--census", help="Census date, YYYY-MM-DD")],
    source: SourceOpt = None,
    config: ConfigOpt = None,
    out: OutOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a finished submission (the old one is kept)")
    ] = False,
) -> None:
    """Validate, compute and write the submission for one census date."""
    from flows.cli_runs import run_command

    raise typer.Exit(run_command(census, source, config, out, replace))


@app.command()
def backfill(
    from_census: Annotated[str, typer.Option("--from", help="First census date, YYYY-MM-DD")],
    to_census: Annotated[str, typer.Option("--to", help="Last census date, YYYY-MM-DD")],
    source: SourceOpt = None,
    config: ConfigOpt = None,
    out: OutOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace finished submissions made from other inputs")
    ] = False,
) -> None:
    """Write one submission per census date in a range, reading the extracts once."""
    from flows.cli_runs import backfill_command

    raise typer.Exit(backfill_command(from_census, to_census, source, config, out, replace))


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
