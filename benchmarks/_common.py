"""Shared by the benchmark scripts: writing their JSON results."""

from __future__ import annotations

import json
import os
import tempfile


def write_json(path, result) -> None:
    """Write ``result`` as JSON atomically (a temporary file in the same folder, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, path)
