"""Reading a training checkpoint file (`checkpoints/last.npz`) so that a damaged one (cut,
empty, flipped bytes, random bytes, another file) is one clear error, never a numpy or
zipfile traceback. Arrays are read with allow_pickle off: a checkpoint holds no code."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np


class DamagedCheckpointError(ValueError):
    """A checkpoint file cannot be read back completely."""


def read(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata, {name: array}) of a checkpoint written by `training.save_checkpoint`:
    every array but "meta". metadata holds at least "epoch" (int) and "config" (dict).

    Raises:
        FileNotFoundError: no file at `path`.
        DamagedCheckpointError: the file is not a complete checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            arrays = {name: archive[name] for name in archive.files if name != "meta"}
        if not (isinstance(meta.get("epoch"), int) and isinstance(meta.get("config"), dict)):
            raise KeyError("epoch/config")
    except (OSError, ValueError, KeyError, EOFError, AttributeError, zipfile.BadZipFile) as err:
        size = path.stat().st_size
        raise DamagedCheckpointError(
            f"The checkpoint {path} ({size:,} bytes) is damaged or not a checkpoint (cut, "
            "overwritten or another file), so this run cannot be resumed from it. Restore it "
            "from a copy, or start a new run in another --run-dir."
        ) from err
    return meta, arrays
