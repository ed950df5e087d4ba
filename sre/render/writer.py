"""Write rendered files under the output directory, so that ``build/`` equals the code.

The directories we own (``dashboards/``, ``rules/``, ``kubernetes/``) are emptied first:
a dashboard or rule file deleted from the code must not linger in ``build/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

OWNED = ("dashboards", "rules", "kubernetes")


def write(out: Path, files: Mapping[str, str]) -> None:
    for name in OWNED:
        target = out / name
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
