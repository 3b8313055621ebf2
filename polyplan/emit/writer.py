"""Write an output folder atomically: all files or none, never a half-written folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_tree(files: Mapping[str, str], out_dir: Path) -> None:
    """Write `files` (relative path → text) as the whole content of `out_dir`.

    Files go to a temporary sibling folder first, which then replaces `out_dir` by rename, so
    a crash or a bad input leaves the previous folder untouched.
    """
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for relative, text in sorted(files.items()):
            target = staging / relative
            if staging not in target.resolve().parents:
                raise ValueError(f"refusing to write outside the output folder: {relative}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
        if out_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.replace(out_dir, retired / "previous")
            os.replace(staging, out_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
