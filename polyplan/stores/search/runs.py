"""Engine-neutral helpers of a validation run: a unique name prefix and the generated setup.py."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from types import ModuleType


def run_prefix() -> str:
    """A name prefix unique to this run (lower case: index names must be)."""
    return f"pp_{uuid.uuid4().hex[:12]}_"


def load_setup(path: Path) -> ModuleType:
    """Import the generated setup.py so tests apply exactly what users run."""
    spec = importlib.util.spec_from_file_location(f"polyplan_search_setup_{uuid.uuid4().hex[:8]}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
