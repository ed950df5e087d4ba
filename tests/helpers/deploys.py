"""A cluster whose one Deployment gets new revisions during a test: a ``kubectl`` stand-in
on PATH that answers from a state file the test rewrites (``FakeCluster.deploy``), and that
rolls back as Kubernetes does (``rollout undo``: the previous ReplicaSet becomes the newest
revision). Every call is logged, one JSON argv a line."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

STANDIN = '''#!{python}
"""Stand-in kubectl for one Deployment, answering from {state!r}."""
import json, os, sys, time
args = sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(json.dumps(args) + "\\n")
with open({state!r}) as f:
    state = json.load(f)
name = {name!r}
ANNOTATION = "deployment.kubernetes.io/revision"

def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))

def save():
    with open({state!r} + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace({state!r} + ".tmp", {state!r})

if args[:1] == ["get"] and args[1] == f"deployment/{{name}}":
    meta = {{"name": name, "annotations": {{ANNOTATION: str(state["revision"])}}}}
    spec = {{"selector": {{"matchLabels": {{"app": name}}}}}}
    print(json.dumps({{"metadata": meta, "spec": spec}}))
elif args[:2] == ["get", "replicasets"]:
    owner = [{{"kind": "Deployment", "name": name}}]
    items = [
        {{"metadata": {{"name": f"{{name}}-{{rs['hash']}}", "ownerReferences": owner,
                      "creationTimestamp": iso(rs["created"]),
                      "annotations": {{ANNOTATION: str(rs["revision"])}}}}}}
        for rs in state["sets"]
    ]
    print(json.dumps({{"items": items}}))
elif args[:2] == ["rollout", "undo"]:
    current = state["revision"]
    older = [rs for rs in state["sets"] if rs["revision"] < current]
    previous = max(older, key=lambda rs: rs["revision"])
    previous["revision"] = state["revision"] = current + 1
    save()
    print(f"deployment.apps/{{name}} rolled back")
elif args[:2] == ["rollout", "status"]:
    print(f'deployment "{{name}}" successfully rolled out')
else:
    print("stand-in kubectl: unexpected arguments", args, file=sys.stderr)
    sys.exit(1)
'''


class FakeCluster:
    """Deployment ``name`` at revision 1 (a ReplicaSet made an hour ago)."""

    def __init__(self, bin_dir: Path, name: str = "api") -> None:
        bin_dir.mkdir(parents=True, exist_ok=True)
        self.state_path = bin_dir / "cluster.json"
        self.log = bin_dir / "kubectl.log"
        self.state: dict[str, Any] = {
            "revision": 1,
            "sets": [{"hash": "a1", "revision": 1, "created": time.time() - 3600}],
        }
        self._save()
        script = bin_dir / "kubectl"
        script.write_text(
            STANDIN.format(
                python=sys.executable, state=str(self.state_path), log=str(self.log), name=name
            )
        )
        script.chmod(0o755)

    def _save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        os.replace(tmp, self.state_path)

    def deploy(self) -> int:
        """A new ReplicaSet and revision, created now; the new revision."""
        self.state = json.loads(self.state_path.read_text())
        revision = int(self.state["revision"]) + 1
        self.state["sets"].append(
            {"hash": f"h{revision}", "revision": revision, "created": time.time()}
        )
        self.state["revision"] = revision
        self._save()
        return revision

    def revision(self) -> int:
        return int(json.loads(self.state_path.read_text())["revision"])

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
