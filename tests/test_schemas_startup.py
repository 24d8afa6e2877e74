"""The schemas package keeps pandera from importing dask.dataframe (see schemas/__init__.py): the
import is gone from a command's start, and every model is the same as with pandera's own answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_DESCRIBE = """
import json, sys
{first}
from schemas.models import MODELS
from schemas.outputs import ChangesRecord, FpdRecord, IndividualsRecord, ResearchRecord
models = dict(MODELS, changes=ChangesRecord, fpd=FpdRecord, individuals=IndividualsRecord,
              research=ResearchRecord)
described = {{
    name: [
        [column, str(spec.dtype), spec.nullable, spec.required, spec.unique,
         sorted(str(check) for check in spec.checks)]
        for column, spec in model.to_schema().columns.items()
    ]
    for name, model in models.items()
}}
print(json.dumps({{"models": described, "dask.dataframe": "dask.dataframe" in sys.modules}}))
"""


def _describe(first: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _DESCRIBE.format(first=first)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_models_are_built_without_importing_dask_dataframe() -> None:
    ours = _describe("")
    assert ours["dask.dataframe"] is False
    # With pandera's own module imported first (so it imports dask.dataframe), the same models.
    pandera_own = _describe("import pandera.typing.dask")
    assert pandera_own["dask.dataframe"] is True  # the comparison below means something
    assert ours["models"] == pandera_own["models"]
    assert len(ours["models"]) == 14  # type: ignore[arg-type]
