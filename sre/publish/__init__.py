"""``python -m sre.render --publish [--dry-run] [--prune]``: dashboards to Grafana, rules
to Prometheus. Prints a plan first, then applies it (unless ``--dry-run``).

The decisions live in ``sre.publish.plan`` (pure); the talking lives in ``sre.clients``.
This module is the glue between them, outside ``sre.render`` so that the renderer stays
free of I/O (``python -m sre.render`` imports it only when ``--publish`` is given).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from sre.clients import ClientError
from sre.clients.git import short_commit
from sre.clients.grafana import GrafanaClient, grafana_client
from sre.clients.prometheus import prometheus_client
from sre.config import Config, GrafanaConfig
from sre.publish import plan as planning

# Lists the rule files a publish wrote into prometheus.rules_dir, so that the next publish
# removes only its own stale files and never one that someone else put there.
MANIFEST = ".sre-managed-rules"
FATAL = frozenset({"auth", "unreachable"})  # no point trying the next dashboard


def publish(
    cfg: Config, out_dir: Path, *, dry_run: bool, prune: bool, message: str | None = None
) -> int:
    """Publish what ``python -m sre.render`` wrote into ``out_dir``; return the exit code."""
    failures = 0
    if cfg.grafana is None:
        print("grafana: no grafana section in the config; dashboards not published")
    else:
        failures += asyncio.run(
            _dashboards(
                cfg.grafana, cfg.system, out_dir, dry_run=dry_run, prune=prune, message=message
            )
        )
    if cfg.needs_prometheus().rules_dir is None:
        print(
            "rules: prometheus.rules_dir is not set; rules ship as PrometheusRule objects "
            "(kubectl apply -k deploy/)"
        )
    else:
        failures += _rules(cfg, out_dir, dry_run)
    if dry_run:
        print("dry run: nothing was changed")
    if failures:
        print(f"publish: FAILED ({failures} problem{'s' if failures != 1 else ''})")
        return 1
    print("publish: ok")
    return 0


def folder_uid(grafana: GrafanaConfig, system: str) -> str:
    """The folder's stable uid: configured, or the system name (Grafana allows 40 chars)."""
    return grafana.folder_uid or system[:40]


# --------------------------------------------------------------------------- dashboards


def _load_dashboards(directory: Path) -> tuple[list[dict[str, Any]], list[str]]:
    if not directory.is_dir():
        return [], [f"{directory} does not exist: run python -m sre.render first"]
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            errors.append(f"{path}: cannot read the dashboard: {err}")
            continue
        if not isinstance(data, dict) or not isinstance(data.get("uid"), str) or not data["uid"]:
            errors.append(f"{path}: a dashboard needs a non-empty string 'uid'")
            continue
        found.append(data)
    if not found and not errors:
        errors.append(f"{directory} holds no *.json dashboards: run python -m sre.render first")
    return found, errors


def _payload(local: dict[str, Any], p: planning.DashboardPlan) -> dict[str, Any]:
    body = {k: v for k, v in local.items() if k not in planning.IGNORED_KEYS}
    body["id"] = None  # Grafana matches by uid
    if p.remote_version is not None:
        body["version"] = p.remote_version  # a concurrent edit then answers 412
    return body


def _with_tag(dashboard: dict[str, Any], tag: str) -> dict[str, Any]:
    """Every dashboard we publish carries the ownership tag: ``--prune`` relies on it."""
    tags = list(dashboard.get("tags") or [])
    return dashboard if tag in tags else {**dashboard, "tags": [*tags, tag]}


def _explain(uid: str, err: ClientError) -> str:
    text = str(err)
    if err.reason == "version_mismatch":
        if "name-exists" in text:
            hint = "another dashboard in this folder already has this title; rename or remove it"
        else:
            hint = "it was changed in Grafana after the plan was read; run the publish again"
        return f"grafana: error: {uid}: {hint} ({text})"
    return f"grafana: error: {uid}: {text}"


async def _dashboards(
    g: GrafanaConfig, system: str, out_dir: Path, *, dry_run: bool, prune: bool, message: str | None
) -> int:

    token = os.environ.get(g.token_env, "")
    if not token:
        print(
            f"grafana: error: the environment variable {g.token_env} is not set "
            "(grafana.token_env names it: a service-account token with Editor rights)"
        )
        return 1
    local, errors = _load_dashboards(out_dir / "dashboards")
    for line in errors:
        print(f"grafana: error: {line}")
    uid = folder_uid(g, system)
    print(f"grafana: {g.url} folder {g.folder!r} (uid {uid})")
    async with grafana_client(g.url, token) as client:
        try:
            return len(errors) + await _plan_and_apply(
                client, g, uid, local, dry_run=dry_run, prune=prune, message=message
            )
        except ClientError as err:
            print(f"grafana: error: {err}")
            return len(errors) + 1


async def _plan_and_apply(
    client: GrafanaClient,
    g: GrafanaConfig,
    uid: str,
    local: list[dict[str, Any]],
    *,
    dry_run: bool,
    prune: bool,
    message: str | None,
) -> int:

    local = [_with_tag(d, g.ownership_tag) for d in local]
    folder = await client.get_folder(uid)
    plans = [planning.plan_dashboard(d, await client.get_dashboard(d["uid"]), uid) for d in local]
    stale: tuple[planning.PrunePlan, ...] = ()
    if prune and folder is not None:
        found = await client.search_dashboards(uid, g.ownership_tag)
        stale = planning.plan_prune((d["uid"] for d in local), found, g.ownership_tag)

    if folder is None:
        print(f"  {'create':<9} folder {uid}  {g.folder!r}")
    for p in plans:
        for line in planning.format_dashboard(p):
            print(line)
    for s in stale:
        print(f"  {'delete':<9} {s.uid}  {s.title!r} (tagged {g.ownership_tag}, no longer in code)")
    counts = planning.count(plans)
    print(
        f"grafana: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['unchanged']} unchanged" + (f", {len(stale)} to delete" if prune else "")
    )
    if dry_run:
        return 0

    if folder is None:
        await client.create_folder(uid, g.folder)
        print(f"grafana: created folder {uid}")
    if message is None:
        message = short_commit() or "sre render"
    failures = 0
    by_uid = {d["uid"]: d for d in local}
    for p in plans:
        if p.action == "unchanged":
            continue
        try:
            await client.save_dashboard(
                _payload(by_uid[p.uid], p),
                folder_uid=uid,
                overwrite=False,
                message=message,
            )
        except ClientError as err:
            if err.reason in FATAL:
                raise
            print(_explain(p.uid, err))
            failures += 1
            continue
        print(f"grafana: {p.action}d {p.uid}")
    failures += await _prune(client, stale)
    return failures


async def _prune(client: GrafanaClient, stale: Iterable[planning.PrunePlan]) -> int:

    failures = 0
    for s in stale:
        try:
            await client.delete_dashboard(s.uid)
        except ClientError as err:
            if err.reason in FATAL:
                raise
            if err.reason != "not_found":  # already gone is what we wanted
                print(_explain(s.uid, err))
                failures += 1
                continue
        print(f"grafana: deleted {s.uid}")
    return failures


# --------------------------------------------------------------------------- rules


def _group_names(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise ValueError("no 'groups' list")
    # Prometheus 3 leaves groups without rules out of /api/v1/rules: never wait for those.
    return [
        str(g["name"]) for g in groups if isinstance(g, dict) and "name" in g and g.get("rules")
    ]


def _read_manifest(dest: Path) -> set[str]:
    try:
        lines = (dest / MANIFEST).read_text(encoding="utf-8").splitlines()
    except OSError:
        return set()
    # Only plain file names we could have written: never a path that leaves the directory.
    return {n for n in (x.strip() for x in lines) if n.endswith(".yaml") and "/" not in n}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")  # does not match *.yaml: Prometheus ignores it
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _rules(cfg: Config, out_dir: Path, dry_run: bool) -> int:
    prom = cfg.needs_prometheus()
    assert prom.rules_dir is not None
    dest = Path(prom.rules_dir)
    files = sorted((out_dir / "rules").glob("*.yaml"))
    if not files:
        print(f"rules: error: no rule files in {out_dir / 'rules'}: run python -m sre.render first")
        return 1
    groups: list[str] = []
    for path in files:
        try:
            groups += _group_names(path)
        except (OSError, ValueError, yaml.YAMLError) as err:
            print(f"rules: error: {path}: {err}")
            return 1
    names = {p.name for p in files}
    stale = sorted(_read_manifest(dest) - names)
    print(f"rules: {len(files)} files, {len(groups)} groups -> {dest}")
    for path in files:
        target = dest / path.name
        same = target.is_file() and target.read_bytes() == path.read_bytes()
        state = "unchanged" if same else ("changed" if target.exists() else "new")
        print(f"  {'write':<9} {path.name} ({state})")
    for name in stale:
        print(f"  {'remove':<9} {name} (no longer rendered)")
    if prom.reload:
        print(f"  {'reload':<9} {prom.url}/-/reload, then check every group loaded")
    if dry_run:
        return 0
    # What each file held before, so a reload that Prometheus rejects can be undone: a bad
    # file left behind would stop Prometheus at its next restart.
    before = {n: _read(dest / n) for n in [*names, *stale, MANIFEST]}
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for path in files:
            _write_atomic(dest / path.name, path.read_text(encoding="utf-8"))
        for name in stale:
            (dest / name).unlink(missing_ok=True)
        _write_atomic(dest / MANIFEST, "".join(f"{n}\n" for n in sorted(names)))
    except OSError as err:
        print(f"rules: error: cannot write to {dest}: {err.strerror or err}")
        return 1
    if not prom.reload:
        print(
            "rules: written; prometheus.reload is off, so Prometheus reads them on its next reload"
        )
        return 0
    return asyncio.run(_reload(prom.url, groups, dest, before))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _restore(dest: Path, before: dict[str, bytes | None]) -> None:
    for name, data in before.items():
        if data is None:
            (dest / name).unlink(missing_ok=True)
        else:
            (dest / name).write_bytes(data)


async def _reload(url: str, groups: list[str], dest: Path, before: dict[str, bytes | None]) -> int:

    async with prometheus_client(url) as client:
        try:
            await client.reload()
            missing = await client.wait_for_groups(groups)
        except ClientError as err:
            print(f"rules: error: {err}")
            if err.reason == "reload_failed":
                _restore(dest, before)
                print(f"rules: put the previous rule files back in {dest}")
                with contextlib.suppress(ClientError):
                    await client.reload()
            return 1
    if missing:
        print(f"rules: error: Prometheus did not load these groups: {', '.join(sorted(missing))}")
        return 1
    print(f"rules: reloaded; all {len(set(groups))} groups loaded")
    return 0
