"""``nis alerts``: create the pipeline's alerts (``automations.yaml``) on the Prefect server.

The automations are kept in the repository as Prefect's own YAML, with ``{notification_block}``
where each action names the notification block. This fills in the block the council created
(``TYPE/NAME``, e.g. ``slack-webhook/nis-alerts``) and creates each automation, or updates the
one of the same name, so running it again after editing the file is safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from schemas.errors import UserInputError

PLACEHOLDER = "{notification_block}"
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "automations.yaml"


class AlertsError(UserInputError):
    """The automations file or the notification block cannot be used."""


def load_automations(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AlertsError(f"{path} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError:
        raise AlertsError(f"{path} is not valid YAML") from None
    found = data.get("automations") if isinstance(data, dict) else data
    if not isinstance(found, list) or not all(isinstance(a, dict) for a in found):
        raise AlertsError(f"{path} holds no list of automations under 'automations:'")
    return found


def _with_block(automation: dict[str, Any], block_id: str) -> dict[str, Any]:
    actions = [
        {**a, "block_document_id": block_id} if a.get("block_document_id") == PLACEHOLDER else a
        for a in automation.get("actions", [])
    ]
    return {**automation, "actions": actions}


def install_alerts(block: str, path: Path = DEFAULT_FILE) -> list[tuple[str, str]]:
    """Create or update every automation of ``path`` with ``block`` (``TYPE/NAME``) as the
    notification block; returns (name, "created" | "updated") for each."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore
    from prefect.exceptions import ObjectNotFound

    block_type, _, name = block.partition("/")
    if not block_type or not name:
        raise AlertsError(
            f"--block {block!r} must be TYPE/NAME, e.g. slack-webhook/nis-alerts or "
            "email/nis-alerts (the block's type and name in the Prefect UI)"
        )
    automations = load_automations(path)
    done: list[tuple[str, str]] = []
    with get_client(sync_client=True) as client:
        try:
            document = client.read_block_document_by_name(name, block_type, include_secrets=False)
        except ObjectNotFound:
            raise AlertsError(
                f"the Prefect server has no {block_type} block named {name!r}: create it in the "
                "UI (Blocks -> Add) first"
            ) from None
        for spec in automations:
            try:
                automation = AutomationCore.model_validate(_with_block(spec, str(document.id)))
            except ValueError as exc:
                raise AlertsError(
                    f"{path}: automation {spec.get('name')!r} is not valid: {type(exc).__name__}"
                ) from None
            existing = client.read_automations_by_name(automation.name)
            if existing:
                client.update_automation(existing[0].id, automation)
                done.append((automation.name, "updated"))
            else:
                client.create_automation(automation)
                done.append((automation.name, "created"))
    return done
