"""``python -m sre.render``: render ``build/`` from the code, check it, optionally publish.

Exit codes: 0 every check passed (and the publish, if asked for, succeeded); 1 a check
failed (every problem is listed first) or the publish failed; 2 the config (or the command
line) is wrong.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from sre.clients import ClientError
from sre.config import Config, ConfigError, load_config
from sre.config.loader import Problem as ConfigProblem
from sre.render import content, engine, writer
from sre.render.problems import AMTOOL_CHECKS, PROMTOOL_CHECKS, Problem
from sre.render.summary import problem_list, summary

log = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sre.render",
        description=(
            "Render the Grafana dashboards, Prometheus rule files and Kubernetes objects "
            "into OUT, then check them all (promtool, PromQL, recording rules, alerts, "
            "runbooks, panel layout, naming). Exit 0 only if every check passed; 1 if a "
            "check failed (all problems are listed); 2 on a bad config."
        ),
    )
    p.add_argument(
        "--config", default="sre.yaml", help="the platform config (default: %(default)s)"
    )
    p.add_argument("--out", default="build", help="output directory (default: %(default)s)")
    p.add_argument(
        "--skip-promtool",
        action="store_true",
        help="do not run promtool (rule files and dashboard PromQL are then not parsed)",
    )
    p.add_argument(
        "--skip-amtool",
        action="store_true",
        help="do not run amtool (the Alertmanager configuration and route tests are then "
        "not checked)",
    )
    p.add_argument(
        "--runbooks",
        default=None,
        help="directory of <AlertName>.md runbooks (default: runbooks/ of the repository)",
    )
    p.add_argument(
        "--publish",
        action="store_true",
        help="after a clean render, publish: dashboards to Grafana, rules to prometheus.rules_dir",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="with --publish: print the plan, change nothing"
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="with --publish: delete our tagged dashboards that no longer exist in code",
    )
    return p


def promtool_problems(out: Path, rendered: engine.Rendered) -> list[Problem]:
    """Run promtool on the written rule files and on every dashboard expression."""
    from sre.clients import promtool

    problems: list[Problem] = []
    rule_paths = [out / p for p in rendered.paths("rules/")]
    try:
        for finding in promtool.check_rules(rule_paths):
            where = Path(finding.file).relative_to(out) if finding.file else "promtool"
            problems.append(Problem("promtool-rules", str(where), finding.message))
    except ClientError as err:
        problems.append(Problem("promtool-rules", "promtool", str(err)))
        if err.reason == "missing":
            problems.append(Problem("promtool-promql", "promtool", str(err)))
            return problems
    # Identical expressions (the same panel on several dashboards) are parsed once.
    unique = sorted({q.promql for q in rendered.queries})
    try:
        errors = promtool.check_expressions(unique)
    except ClientError as err:
        return [*problems, Problem("promtool-promql", "promtool", str(err))]
    by_expr = {unique[i]: message for i, message in errors.items()}
    for query in rendered.queries:
        if query.promql in by_expr:
            # promtool's column counts in the substituted text, so that is what we show.
            shown = query.promql
            if query.promql != query.expr:
                shown += "  (Grafana variables substituted)"
            problems.append(
                Problem("promtool-promql", query.where, f"{by_expr[query.promql]} in: {shown}")
            )
    return problems + promtool_config_problems(out)


def promtool_config_problems(out: Path) -> list[Problem]:
    from sre.clients import promtool

    path = out / "prometheus" / "prometheus.yaml"
    try:
        return [
            Problem("promtool-config", "prometheus/prometheus.yaml", message)
            for message in promtool.check_config(path)
        ]
    except ClientError as err:
        return [Problem("promtool-config", "promtool", str(err))]


def amtool_problems(out: Path, rendered: engine.Rendered) -> list[Problem]:
    """amtool check-config, then every route case through ``amtool config routes test``."""
    from sre.clients import amtool

    name = "alertmanager/alertmanager.yaml"
    if name not in rendered.files:
        return []
    path = out / name
    try:
        found = amtool.check_config(path)
    except ClientError as err:
        return [Problem("amtool-config", "amtool", str(err))]
    if found:
        return [Problem("amtool-config", name, message) for message in found]
    cases = rendered.route_cases
    try:
        got = amtool.routes_for(path, [c.labels for c in cases])
    except ClientError as err:
        return [Problem("amtool-routes", "amtool", str(err))]
    problems = []
    for case, receivers in zip(cases, got, strict=True):
        if sorted(receivers) != sorted(case.receivers):
            labels = ", ".join(f'{k}="{v}"' for k, v in sorted(case.labels.items()))
            problems.append(
                Problem(
                    "amtool-routes",
                    case.name,
                    f"{{{labels}}} reaches {', '.join(receivers) or 'nothing'}, "
                    f"expected {', '.join(case.receivers)}",
                )
            )
    return problems


def run(
    cfg: Config,
    out: Path,
    *,
    skip_promtool: bool,
    skip_amtool: bool = False,
    runbooks: Path | None = None,
    loaded: content.Content | None = None,
) -> int:
    """Render, write, check and report; the exit code (0 or 1).

    ``loaded`` replaces the repository's dashboards and rules (tests feed broken ones).
    """
    if loaded is None:
        loaded = content.load(cfg)
    runbook_dir = runbooks if runbooks is not None else content.repository_root() / "runbooks"
    rendered = engine.render(
        cfg,
        loaded.dashboards,
        loaded.groups,
        runbooks=content.runbook_names(runbook_dir),
        texts=loaded.texts,
        datasource_uid=cfg.needs_prometheus().datasource_uid,
    )
    try:
        writer.write(out, rendered.files)
    except writer.NotOurs as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot write {out}: {err.strerror or err} ({err.filename})", file=sys.stderr)
        return 1
    problems = loaded.problems + rendered.problems
    skipped: dict[str, str] = {}
    if skip_promtool:
        skipped = dict.fromkeys(PROMTOOL_CHECKS, "--skip-promtool")
    else:
        problems += promtool_problems(out, rendered)
    if skip_amtool:
        skipped |= dict.fromkeys(AMTOOL_CHECKS, "--skip-amtool")
    else:
        problems += amtool_problems(out, rendered)
    if problems:
        print(problem_list(problems), file=sys.stderr)
        print(file=sys.stderr)
        sys.stderr.flush()
    print(summary(str(out), rendered.files, problems, skipped=skipped, counts=rendered.counts))
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if (args.dry_run or args.prune) and not args.publish:
        parser().error("--dry-run and --prune only make sense with --publish")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config)
        if missing := cfg.for_rendering():
            # The daemon runs without these; rendering cannot (datasource, runbook links).
            problems = [
                ConfigProblem(name, "missing required section (rendering needs it)")
                for name in missing
            ]
            raise ConfigError(args.config, problems)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    runbooks = Path(args.runbooks) if args.runbooks else None
    code = run(
        cfg,
        out,
        skip_promtool=args.skip_promtool,
        skip_amtool=args.skip_amtool,
        runbooks=runbooks,
    )
    if not args.publish:
        return code
    if code != 0:
        print("publish: not attempted, the render has problems (see above)", file=sys.stderr)
        return code
    print("\nPublishing" + (" (dry run)" if args.dry_run else ""), flush=True)
    from sre.publish import publish

    return publish(cfg, out, dry_run=args.dry_run, prune=args.prune)


if __name__ == "__main__":
    sys.exit(main())
