"""Write rendered files under the output directory, so that ``build/`` equals the code.

The directories we own (``dashboards/``, ``rules/``, ``kubernetes/``, ``alertmanager/``,
``prometheus/``) are emptied first:
a dashboard or rule file deleted from the code must not linger in ``build/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

OWNED = ("dashboards", "rules", "kubernetes", "alertmanager", "prometheus")
# What render writes into each owned directory; anything else there is not ours to delete.
_OURS = {
    "dashboards": (".json",),
    "rules": (".yaml",),
    "kubernetes": (".yaml",),
    "alertmanager": (".yaml", ".tmpl"),
    "prometheus": (".yaml",),
}


class NotOurs(OSError):
    """An owned directory holds something render did not write (``--out`` at the source?)."""


def _check_ours(target: Path) -> None:
    for entry in target.iterdir():
        if entry.is_dir() or not entry.name.endswith(_OURS[target.name]):
            raise NotOurs(
                f"refusing to clear {target}: it holds {entry.name}, which render does not "
                "write (is --out pointing at the source tree?)"
            )


def write(out: Path, files: Mapping[str, str]) -> None:
    owned = [out / name for name in OWNED]
    for target in owned:  # check all before deleting anything
        if target.is_dir() and not target.is_symlink():
            _check_ours(target)
    for target in owned:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        target.mkdir(parents=True)
    for relative, text in sorted(files.items()):
        path = out / relative
        if path.parent.name not in OWNED or path.parent.parent != out:
            raise ValueError(f"refusing to write {relative!r} outside {', '.join(OWNED)}")
        # Bytes, not text mode: identical output on every platform (no newline translation).
        path.write_bytes(text.encode("utf-8"))
