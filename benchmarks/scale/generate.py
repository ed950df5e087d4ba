"""Write an ``sre.yaml`` of N services, split by team: ``python -m benchmarks.scale.generate``.

    python -m benchmarks.scale.generate --services 500 --out DIR
    python -m benchmarks.scale.generate --services 500 --probes 10000 --out DIR
    python -m benchmarks.scale.generate --services 4,50,500 --out DIR   # DIR/n4, DIR/n50, ...

Each config is a main ``sre.yaml`` (shared settings, ``service_defaults``, extra probes) and
one ``services/team-NN.yaml`` per team (the team's namespace as its defaults). The output is
deterministic: service ``i`` always gets the same settings. What varies, so the rules meet
more than one value of everything a service can override:

* every 10th service has a stricter SLO (99.9%), every 20th none; every 3rd a latency SLO;
* every 2nd service (every one with ``rollback_every=1``) has a rollback policy (a
  Deployment of its name); every 25th of those waits 5m instead of the default 2m, and
  every service ``i`` with ``i % 7 == 6`` among them has a p95 latency trigger of 1s;
* every service has a health probe; ``--probes P`` adds top-level probes (spread over the
  services) until there are P probe targets in all.

``--probe-base-url URL`` points every probe at ``URL/healthz/<service>`` (what
``sre/devtools/synthetic.py`` answers); ``--applications-selector`` sets
``selectors.applications`` (e.g. ``job="synthetic"`` for a synthetic platform).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

TEAMS = 10


def service_name(i: int) -> str:
    return f"svc-{i:04d}"


def team_of(i: int, teams: int) -> int:
    return i % teams


def _probe_url(name: str, namespace: str, base: str | None) -> str:
    if base:
        return f"{base.rstrip('/')}/healthz/{name}"
    return f"http://{name}.{namespace}.svc:8080/healthz"


def service(
    i: int, namespace: str, probe_base: str | None, rollback_every: int = 2
) -> dict[str, Any]:
    name = service_name(i)
    out: dict[str, Any] = {"name": name, "health": {"url": _probe_url(name, namespace, probe_base)}}
    if i % 20 == 19:
        out["slo"] = None
    elif i % 10 == 9:
        out["slo"] = {"availability": 99.9}
    if i % 3 == 2 and out.get("slo", {}) is not None:
        out.setdefault("slo", {})["latency_p95_seconds"] = 0.5
    if i % rollback_every == 0:
        rollback: dict[str, Any] = {"target": {"kind": "deployment", "name": name}}
        if (i // rollback_every) % 25 == 12:
            rollback["for"] = "5m"
        if i % 7 == 6:
            rollback["latency_p95_above_seconds"] = 1.0
        out["rollback"] = rollback
    return out


def main_config(
    n: int, probes: int, applications: str, probe_base: str | None, teams: int
) -> dict[str, Any]:
    extra = []
    for k in range(max(0, probes - n)):
        owner = k % n
        name = f"probe-{k:05d}"
        url = _probe_url(service_name(owner), f"team-{team_of(owner, teams):02d}", probe_base)
        extra.append({"name": name, "service": service_name(owner), "url": url})
    return {
        "system": "scale",
        "environment": "production",
        "prometheus": {"url": "http://prometheus.monitoring:9090", "datasource_uid": "prometheus"},
        "grafana": {"url": "http://grafana.monitoring:3000", "folder": "Scale"},
        "runbooks": {"base_url": "https://git.example.com/sre/-/blob/main/runbooks/"},
        "selectors": {"applications": applications},
        "service_defaults": {
            "slo": {"availability": 99.5},
            "health": {"interval": "30s", "timeout": "2s"},
            "rollback": {
                "error_rate_above": 0.05,
                "for": "2m",
                "after_deploy": "30m",
                "cooldown": "30m",
            },
        },
        "include": ["services/*.yaml"],
        "datastores": [
            {"name": "postgres", "kind": "postgres", "namespace": "data"},
            {"name": "redis", "kind": "redis", "namespace": "data"},
        ],
        "queues": [{"name": "tasks", "backlog_above": 1000, "oldest_age_above": "10m"}],
        "probes": extra,
    }


def write(
    out: Path,
    n: int,
    *,
    probes: int = 0,
    applications: str = 'namespace=~"team-.+"',
    probe_base: str | None = None,
    teams: int = TEAMS,
    rollback_every: int = 2,
) -> Path:
    """Write one config of ``n`` services under ``out``; return the main file's path."""
    if n < 1:
        raise ValueError("at least one service")
    teams = max(1, min(teams, n))
    (out / "services").mkdir(parents=True, exist_ok=True)
    for old in (out / "services").glob("team-*.yaml"):
        old.unlink()
    for team in range(teams):
        namespace = f"team-{team:02d}"
        members = [
            service(i, namespace, probe_base, rollback_every)
            for i in range(n)
            if team_of(i, teams) == team
        ]
        doc = {"service_defaults": {"namespace": namespace}, "services": members}
        (out / "services" / f"{namespace}.yaml").write_text(_dump(doc), encoding="utf-8")
    main = out / "sre.yaml"
    main.write_text(
        _dump(main_config(n, probes, applications, probe_base, teams)), encoding="utf-8"
    )
    return main


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=1000)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale.generate", description=__doc__)
    p.add_argument(
        "--services", default="4,50,500", help="N, or several: 4,50,500 (default %(default)s)"
    )
    p.add_argument("--out", required=True, help="directory to write into")
    p.add_argument("--probes", type=int, default=0, help="probe targets in all (default: N)")
    p.add_argument("--teams", type=int, default=TEAMS, help="team files (default %(default)s)")
    p.add_argument("--probe-base-url", default=None, help="probe URL/healthz/<service>")
    p.add_argument(
        "--applications-selector",
        default='namespace=~"team-.+"',
        help="selectors.applications (default %(default)s)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        counts = [int(n) for n in str(args.services).split(",")]
    except ValueError:
        print(f"--services: {args.services!r} is not a number or a list like 4,50,500")
        return 2
    out = Path(args.out)
    for n in counts:
        where = out if len(counts) == 1 else out / f"n{n}"
        path = write(
            where,
            n,
            probes=args.probes,
            applications=args.applications_selector,
            probe_base=args.probe_base_url,
            teams=args.teams,
        )
        print(f"{n} services: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
