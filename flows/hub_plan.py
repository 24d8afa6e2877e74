"""What a hub run will do, checked before anything starts: the councils (one folder of extracts
each under the sources folder), the settings every council shares, and where the Dask cluster is.

How the config applies to a hub: the settings that describe the data and the run are shared by
every council (quarantine threshold, column map, extract date, census lag, output folder,
pseudonym secret). The two that name one council are not: ``la_code`` (from the file or
``NIS_LA_CODE``) is never applied, since each council's code comes from its own families extract
through validation, and ``[source]`` is replaced by each council's folder. A config that sets
either gets a note saying it is not used. Nothing here imports Prefect or Dask.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from exports.paths import check_output_root
from flows.settings import Settings, load_settings
from schemas.codes import LA_CODE_PATTERN
from schemas.errors import UserInputError
from transforms.periods import parse_census

DEFAULT_WORKERS = 2
SCHEDULER_CONNECT_SECONDS = 5.0
# The protocols by which a Dask client reaches a scheduler on another process or machine.
DASK_PROTOCOLS = frozenset({"tcp", "tls", "ucx", "ws", "wss"})


class HubInputError(UserInputError):
    """A hub run that cannot start: no councils, a bad argument, a scheduler that is not there."""


@dataclass(frozen=True)
class HubPlan:
    census: str  # ISO census date
    sources: Path  # absolute
    councils: tuple[Path, ...]  # absolute, sorted by name
    config: Path | None  # absolute
    output_dir: Path  # absolute
    workers: int
    scheduler: str | None
    notes: tuple[str, ...] = ()  # what the config says that a hub does not use


def council_folders(sources: Path) -> list[Path]:
    """Every folder directly under ``sources`` (hidden ones aside), by name: one council each.
    A folder without its extracts is still a council: it fails, by name, rather than vanish."""
    if not sources.exists():
        raise HubInputError(f"sources folder {sources} does not exist")
    if not sources.is_dir():
        raise HubInputError(f"sources folder {sources} is a file, not a folder")
    folders = sorted(
        (p for p in sources.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    if not folders:
        hint = "one folder of extracts per council"
        if any(p.is_file() and p.stem == "families" for p in sources.iterdir()):
            hint = (
                "it holds one council's extracts: use nis run for one council, or put them in "
                "a folder of their own under it"
            )
        raise HubInputError(f"no council folders in {sources} ({hint})")
    return folders


def hub_settings(
    config_path: str | Path | None, source_path: str | Path | None, output_dir: str | Path | None
) -> Settings:
    """One council's settings: the shared ones from flags, ``NIS_*`` and the config, its own
    folder as the source, and no ``la_code`` (the families extract gives it)."""
    settings = load_settings(
        Path(config_path) if config_path else None,
        source_path=str(source_path) if source_path else None,
        output_dir=str(output_dir) if output_dir else None,
    )
    return settings.model_copy(update={"la_code": None})


def config_notes(settings: Settings) -> list[str]:
    """What the config (or environment) sets that a hub leaves aside, each said once."""
    notes = []
    if settings.la_code:
        notes.append(
            f"note: la_code {settings.la_code} from the config is not used by a hub: each "
            "council's code comes from its own families extract"
        )
    if settings.source.path is not None or settings.source.url is not None:
        notes.append(
            "note: the config's [source] is not used by a hub: each council's extracts are its "
            "folder under --sources"
        )
    return notes


def _scheduler_host_port(address: str) -> tuple[str, int] | None:
    """Host and port of a ``tcp://host:port`` (or bare ``host:port``) address; None for the other
    protocols Dask speaks, which are not probed."""
    text = address if "://" in address else f"tcp://{address}"
    parts = urlsplit(text)
    if parts.scheme not in DASK_PROTOCOLS:
        # An http:// address (the dashboard's, most often) or a protocol Dask does not speak
        # between machines: Dask failed on it only once Prefect had started, exit 1, in one word.
        hint = " (an http address is the dashboard's, not the scheduler's)"
        raise HubInputError(
            f"--scheduler {address} is not a Dask scheduler address (tcp://HOST:PORT, e.g. "
            f"tcp://10.0.0.5:8786){hint if parts.scheme in ('http', 'https') else ''}"
        )
    if parts.scheme != "tcp":
        return None
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise HubInputError(
            f"--scheduler {address} is not a Dask scheduler address (tcp://HOST:PORT, e.g. "
            "tcp://10.0.0.5:8786)"
        )
    return parts.hostname, port


def check_scheduler(address: str, timeout: float = SCHEDULER_CONNECT_SECONDS) -> None:
    """Fail at once, in one line, when nothing listens at the scheduler's address (Dask itself
    would retry for half a minute and then fail with a traceback)."""
    host_port = _scheduler_host_port(address)
    if host_port is None:
        return
    try:
        with socket.create_connection(host_port, timeout=timeout):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise HubInputError(
            f"the Dask scheduler at {address} does not answer ({reason}): start it "
            "(dask scheduler) or leave out --scheduler to run on a local cluster"
        ) from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # (a URL's hostname has no brackets)
    except ValueError:
        return False


def address_host(address: str) -> str:
    """The host of a Dask (``tcp://host:port``) or HTTP address."""
    text = address if "://" in address else f"tcp://{address}"
    return urlsplit(text).hostname or ""


def unreachable_api(api_url: str, worker_addresses: list[str]) -> str | None:
    """Why the Dask workers cannot report to the Prefect API, or None: an API on this machine's
    loopback interface (the temporary one ``nis`` starts, or a server at 127.0.0.1) is reachable
    only from workers on this machine."""
    if not is_loopback(address_host(api_url)):
        return None
    remote = sorted(a for a in worker_addresses if not is_loopback(address_host(a)))
    if not remote:
        return None
    return (
        f"{len(remote)} of the Dask cluster's {len(worker_addresses)} workers are on other "
        f"machines ({address_host(remote[0])} ...) and cannot reach the Prefect API at {api_url}: "
        "run a Prefect server they can reach and set PREFECT_API_URL to it (see docs/prefect.md)"
    )


def families_codes(source_path: str, config_path: str | None, output_dir: str) -> tuple[str, ...]:
    """The council codes in a council folder's families extract, read in a Dask worker before
    any council is written. Codes only (no other value leaves the worker); () when the extract
    cannot be read: the council's own run then says why. (Here, not in ``flows.hub``: Dask pickles
    a function by its module's name, and a deployment loads ``flows.hub`` as ``hub``.)"""
    from extracts.reader import read_extract

    try:
        settings = hub_settings(config_path, source_path, output_dir)
        families = read_extract(settings.extract_source(), "families").frame
        # As validation reads them: upper-cased, and only codes of an ONS code's shape. A row
        # whose code has another shape is that row's error (E110), not a second council: the
        # folder's run goes on and writes the council it names.
        codes = families["la_code"].dropna().str.strip().str.upper()  # (the reader strips)
        valid = codes[codes.str.fullmatch(LA_CODE_PATTERN.strip("^$"))]
        return tuple(sorted(str(code) for code in valid.unique()))
    except Exception:
        return ()


def shared_councils(codes: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The folders whose families name a council that another folder's families name too, each
    with that council and every folder holding it (by folder name). A folder naming several
    councils fails on its own (F005) and holds back no other."""
    holders: dict[str, list[str]] = {}
    for label, found in sorted(codes.items()):
        if len(found) == 1:
            holders.setdefault(found[0], []).append(label)
    shared: dict[str, tuple[str, tuple[str, ...]]] = {}
    for code, labels in sorted(holders.items()):
        if len(labels) > 1:
            for label in labels:
                shared.setdefault(label, (code, tuple(labels)))
    return shared


def plan_hub(
    census: str,
    sources: Path | str,
    config: Path | str | None,
    output_dir: Path | str | None,
    workers: int = DEFAULT_WORKERS,
    scheduler: str | None = None,
) -> HubPlan:
    """Check a hub run's arguments and list its councils; raise a UserInputError (exit 2) when
    nothing could run. Paths are made absolute: workers may run in another folder."""
    census_iso = parse_census(census).isoformat()
    if workers < 1:
        raise HubInputError(f"workers (--workers) must be 1 or more, not {workers}")
    config_path = Path(config).resolve() if config else None
    shared = load_settings(config_path, output_dir=str(output_dir) if output_dir else None)
    notes = config_notes(shared)
    sources_path = Path(sources).resolve()
    check_output_root(Path(shared.output_dir))
    output_path = Path(shared.output_dir).resolve()
    if output_path.is_relative_to(sources_path):
        raise HubInputError(
            f"the output folder {shared.output_dir} is inside the sources folder {sources}: the "
            "next hub run would take it for a council; write the submissions elsewhere"
        )
    councils = council_folders(sources_path)
    scheduler = scheduler.strip() if scheduler else None
    if scheduler:
        _scheduler_host_port(scheduler)  # a malformed address is an argument mistake
    elif workers > len(councils):
        # A local worker is a process of its own: one with no council to run only costs a
        # start-up (a typo of 2000 would start 2000).
        notes.append(
            f"note: {workers} workers asked for {len(councils)} council"
            f"{'s' if len(councils) != 1 else ''}: {len(councils)} started"
        )
        workers = len(councils)
    return HubPlan(
        census=census_iso,
        sources=sources_path,
        councils=tuple(councils),
        config=config_path,
        output_dir=output_path,
        workers=workers,
        scheduler=scheduler or None,
        notes=tuple(notes),
    )
