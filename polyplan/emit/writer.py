"""Write an output folder atomically and safely: all files or none, and never a user's file.

The rules (issue 7), in the order they are checked:

1. Never the current folder, one of its parents, the model's folder or one of its parents,
   a regular file, or a symbolic link: refused even with `force`.
2. A missing or empty folder is created.
3. An existing folder is replaced only when it is a previous polyplan output: it holds the
   manifest polyplan wrote (`MANIFEST`), every file in it is listed there, and each still has
   the bytes polyplan wrote. Anything else (a folder of the user's, a generated file edited
   since) is refused, unless `force` says to replace a foreign folder.

Files go to a hidden temporary sibling first, which then takes the folder's place by rename,
so a crash or a kill leaves either the previous folder or the new one, never a mix. A kill
between the two renames leaves the previous folder parked in a hidden sibling; the next write
to the same place puts it back first (and removes stale staging folders), so nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

MANIFEST = ".polyplan-manifest.json"
# Byproducts of running the generated tests inside the folder: not the user's files.
_BYPRODUCTS = frozenset({"__pycache__", ".pytest_cache"})
_STAGING = ".polyplan-staging-"
_PARKED = ".polyplan-previous-"


class OutputRefused(Exception):
    """The output path is unsafe or holds files polyplan did not write. `code` is a stable PP6xx code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def digest(text: str | bytes) -> str:
    """The SHA-256 of a file as written (a text in UTF-8, or its bytes)."""
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


def manifest_text(files: Mapping[str, str | bytes], model_name: str, model_sha256: str) -> str:
    """The manifest: what polyplan wrote, with each file's hash and the model's (deterministic)."""
    body = {
        "files": {path: digest(text) for path, text in sorted(files.items())},
        "generated_by": "polyplan",
        "model": model_name,
        "model_sha256": model_sha256,
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def read_manifest(folder: Path) -> dict[str, str] | None:
    """Relative path → SHA-256 of the files polyplan wrote in `folder`, or None without a manifest."""
    path = folder / MANIFEST
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("generated_by") != "polyplan" or not isinstance(data.get("files"), dict):
        return None
    return {str(k): str(v) for k, v in data["files"].items()}


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def foreign_files(folder: Path, written: Mapping[str, str]) -> list[str]:
    """Files in `folder` that polyplan did not write, or that changed since it wrote them."""
    found: list[str] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _BYPRODUCTS)
        for name in sorted(names):
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if relative == MANIFEST:
                continue
            expected = written.get(relative)
            if expected is None or path.is_symlink():
                found.append(relative)
                continue
            if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
                found.append(f"{relative} (edited since polyplan wrote it)")
        for name in dirs:
            if (Path(root) / name).is_symlink():
                found.append((Path(root) / name).relative_to(folder).as_posix())
    return found


def check_destination(out_dir: Path, model_path: Path | None = None, force: bool = False) -> None:
    """Raise OutputRefused unless writing `out_dir` can replace nothing but polyplan's own output."""
    given = Path(os.path.abspath(out_dir))
    if given.is_symlink():
        raise OutputRefused("PP602", f"{out_dir} is a symbolic link; polyplan never writes through a link")
    resolved = given.resolve()
    cwd = Path.cwd().resolve()
    if _is_within(cwd, resolved):
        raise OutputRefused("PP602", f"{out_dir} is the current folder or one of its parents; name a new folder")
    if model_path is not None and _is_within(Path(model_path).resolve().parent, resolved):
        raise OutputRefused("PP602", f"{out_dir} holds the model {model_path}; name a folder of its own for the plan")
    if given.exists() and not given.is_dir():
        raise OutputRefused("PP602", f"{out_dir} is a file, not a folder; polyplan replaces only folders")
    if not given.is_dir() or not any(given.iterdir()):
        return
    written = read_manifest(given)
    if written is None:
        if force:
            return
        raise OutputRefused(
            "PP601",
            f"{out_dir} is not empty and was not written by polyplan (it has no {MANIFEST}); "
            "choose another folder, or pass --force to replace it",
        )
    foreign = foreign_files(given, written)
    if foreign and not force:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputRefused(
            "PP601",
            f"{out_dir} holds files polyplan did not write: {shown}; move them out, or pass --force to replace them",
        )


def _recover(out_dir: Path) -> None:
    """Undo what a killed earlier write left behind next to `out_dir`."""
    prefix = f".{out_dir.name}"
    for sibling in sorted(out_dir.parent.glob(f"{prefix}{_STAGING}*")):
        shutil.rmtree(sibling, ignore_errors=True)
    for parked in sorted(out_dir.parent.glob(f"{prefix}{_PARKED}*")):
        previous = parked / "previous"
        if previous.is_dir() and not out_dir.exists():
            os.replace(previous, out_dir)
        shutil.rmtree(parked, ignore_errors=True)


def write_tree(
    files: Mapping[str, str],
    out_dir: Path,
    *,
    model_path: Path | None = None,
    model_name: str = "",
    model_sha256: str = "",
    force: bool = False,
    binary: Mapping[str, bytes] | None = None,
) -> None:
    """Write `files` (relative path → text) and `binary` (relative path → bytes: PNG charts) plus
    a manifest as the whole content of `out_dir`.

    Raises OutputRefused (nothing written) when `out_dir` is unsafe or holds foreign files.
    """
    out_dir = Path(os.path.abspath(out_dir))
    try:
        if out_dir.parent.is_dir():
            _recover(out_dir)
        check_destination(out_dir, model_path, force)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{_STAGING}", dir=out_dir.parent))
    except OSError as error:
        raise OutputRefused("PP603", f"cannot write {out_dir}: {error.strerror or error}") from None
    try:
        written: dict[str, str | bytes] = {**files, **(binary or {})}
        everything = {**written, MANIFEST: manifest_text(written, model_name, model_sha256)}
        for relative, text in sorted(everything.items()):
            target = staging / relative
            if staging not in target.resolve().parents:
                raise OutputRefused("PP602", f"refusing to write outside the output folder: {relative}")
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                target.write_bytes(text)
            else:
                target.write_text(text, encoding="utf-8", newline="\n")
        if out_dir.exists():
            parked = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{_PARKED}", dir=out_dir.parent))
            os.replace(out_dir, parked / "previous")
            os.replace(staging, out_dir)
            shutil.rmtree(parked, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputRefused("PP603", f"cannot write {out_dir}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
