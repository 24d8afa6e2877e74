"""What valid input and output are: the pandera models, the rules and the parsing.

pandera asks, the first time a model is built, whether a column may be annotated with a Dask frame,
and to know it imports ``dask.dataframe`` whenever Dask is installed (it is, for the regional hub's
task runner). That import costs about 0.65 s of every command's start, and no model here is ever a
Dask frame: pandera is told Dask frames are not in use before any model is built, by the module it
reads that answer from (``pandera.typing.dask``, whose ``DASK_INSTALLED`` is then False). Nothing
else changes: Dask itself is still imported by the hub as before. tests/test_schemas_startup.py
checks that the models are the same either way and that the import is gone.
"""

from __future__ import annotations

import sys
import types

_PANDERA_DASK_TYPING = "pandera.typing.dask"

if _PANDERA_DASK_TYPING not in sys.modules:  # not when pandera already imported the real one
    _no_dask_frames = types.ModuleType(_PANDERA_DASK_TYPING)
    _no_dask_frames.DASK_INSTALLED = False  # type: ignore[attr-defined]
    sys.modules[_PANDERA_DASK_TYPING] = _no_dask_frames
