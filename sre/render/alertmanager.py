"""``alertmanager`` section -> Alertmanager's configuration, its route test cases and the
default inhibitions. Pure: the file text is returned; ``sre.clients.amtool`` checks it.

The rendered tree is flat: the root route (the default receiver and grouping) and one child
per ``alertmanager.route.routes`` entry, tried in order, first match wins unless a route
says ``continue``. The heartbeat route (``Watchdog`` -> the daemon) always comes first.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sre.config import AlertmanagerConfig, Config, InhibitRule, Receiver, Route
from sre.config.alerting import parse_matcher
from sre.render.problems import Problem

WATCHDOG = "Watchdog"
HEARTBEAT_PATH = "/alertmanager/heartbeat"
WEBHOOK_PATH = "/alertmanager"
# Where kube-prometheus-stack mounts alertmanagerSpec.secrets: <dir>/<secret>/<key>.
OPERATOR_SECRETS_DIR = "/etc/alertmanager/secrets"
# A service that is down makes these of its alerts noise (they say the same thing).
DOWN_HIDES = ("ServiceHighErrorRate", "ServiceHighLatency", "ProbeFailing")
DOWN_HIDES_PREFIX = "SLOErrorBudgetBurn"
DATASTORE_DOWN = {"postgres": "PostgresDown", "redis": "RedisDown"}
DATASTORE_ALERT_PREFIX = {"postgres": "Postgres", "redis": "Redis"}
_REGEX_META = set(".^$*+?{}[]\\|()")


@dataclass(frozen=True)
class RouteCase:
    """Labels that must reach exactly ``receivers`` (in any order)."""

    name: str
    labels: Mapping[str, str]
    receivers: tuple[str, ...]


def heartbeat_receiver_name(cfg: AlertmanagerConfig) -> str | None:
    return f"{cfg.heartbeat.receiver}-heartbeat" if cfg.heartbeat is not None else None


def _secret(root: str, relative: str) -> str:
    return f"{root.rstrip('/')}/{relative}"


def _receiver(rec: Receiver, secrets: str, cfg: AlertmanagerConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rec.name}
    if rec.sre_daemon is not None:
        out["webhook_configs"] = [_daemon_webhook(rec, secrets, WEBHOOK_PATH, rec.send_resolved)]
    if rec.webhook is not None:
        hook: dict[str, Any] = {"send_resolved": rec.send_resolved}
        if rec.webhook.url is not None:
            hook["url"] = rec.webhook.url
        else:
            hook["url_file"] = _secret(secrets, str(rec.webhook.url_file))
        if rec.webhook.bearer_token_file is not None:
            hook["http_config"] = _bearer(_secret(secrets, rec.webhook.bearer_token_file))
        out.setdefault("webhook_configs", []).append(hook)
    if rec.pagerduty is not None:
        pd: dict[str, Any] = {
            "send_resolved": rec.send_resolved,
            "routing_key_file": _secret(secrets, rec.pagerduty.routing_key_file),
        }
        if rec.pagerduty.url is not None:
            pd["url"] = rec.pagerduty.url
        out["pagerduty_configs"] = [pd]
    if rec.email is not None:
        mail: dict[str, Any] = {"send_resolved": rec.send_resolved, "to": rec.email.to}
        for key, value in (
            ("from", rec.email.from_),
            ("smarthost", rec.email.smarthost),
            ("auth_username", rec.email.auth_username),
            ("require_tls", rec.email.require_tls),
        ):
            if value is not None:
                mail[key] = value
        if rec.email.auth_password_file is not None:
            mail["auth_password_file"] = _secret(secrets, rec.email.auth_password_file)
        out["email_configs"] = [mail]
    if rec.slack is not None:
        out["slack_configs"] = [
            {
                "send_resolved": rec.send_resolved,
                "api_url_file": _secret(secrets, rec.slack.api_url_file),
                "channel": rec.slack.channel,
            }
        ]
    return out


def _bearer(path: str) -> dict[str, Any]:
    return {"authorization": {"type": "Bearer", "credentials_file": path}}


def _daemon_webhook(rec: Receiver, secrets: str, path: str, resolved: bool) -> dict[str, Any]:
    assert rec.sre_daemon is not None
    hook: dict[str, Any] = {
        "url": rec.sre_daemon.url.rstrip("/") + path,
        "send_resolved": resolved,
        "http_config": _bearer(_secret(secrets, rec.sre_daemon.token_file)),
    }
    if rec.sre_daemon.max_alerts:
        hook["max_alerts"] = rec.sre_daemon.max_alerts
    return hook


def _route(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": route.receiver, "matchers": list(route.all_matchers())}
    if route.continue_:
        out["continue"] = True
    if route.group_by is not None:
        out["group_by"] = list(route.group_by)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(route, key)
        if value is not None:
            out[key] = str(value)
    if route.active_time_intervals:
        out["active_time_intervals"] = list(route.active_time_intervals)
    if route.mute_time_intervals:
        out["mute_time_intervals"] = list(route.mute_time_intervals)
    return out


def _names_regex(names: Collection[str]) -> str:
    return "|".join(sorted(re.escape(n) for n in names))


def default_inhibitions(cfg: Config, alerts: Collection[str]) -> list[InhibitRule]:
    """Critical hides warning of the same alert and service; a service that is down hides
    its own error-rate, latency, SLO-burn and probe alerts; a datastore that is down hides
    its other alerts and the probes of it. Only alerts the rules define are named."""
    rules = [
        InhibitRule(
            name="critical hides warning",
            source_matchers=('severity="critical"',),
            target_matchers=('severity="warning"',),
            equal=("alertname", "environment", "service"),
        )
    ]
    hidden = [a for a in alerts if a in DOWN_HIDES or a.startswith(DOWN_HIDES_PREFIX)]
    if "ServiceDown" in alerts and hidden:
        rules.append(
            InhibitRule(
                name="a service that is down hides its own symptoms",
                source_matchers=('alertname="ServiceDown"',),
                target_matchers=(f'alertname=~"{_names_regex(hidden)}"',),
                equal=("environment", "service"),
            )
        )
    for kind, down in sorted(DATASTORE_DOWN.items()):
        others = [a for a in alerts if a.startswith(DATASTORE_ALERT_PREFIX[kind]) and a != down]
        if down in alerts and others and any(d.kind == kind for d in cfg.datastores):
            rules.append(
                InhibitRule(
                    name=f"{down} hides the other alerts of that datastore",
                    source_matchers=(f'alertname="{down}"',),
                    target_matchers=(f'alertname=~"{_names_regex(others)}"',),
                    equal=("datastore", "environment"),
                )
            )
    for ds in cfg.datastores:
        probes = sorted(p.name for p in cfg.all_probes() if p.service == ds.name)
        down = DATASTORE_DOWN[ds.kind]
        if probes and down in alerts and "ProbeFailing" in alerts:
            rules.append(
                InhibitRule(
                    name=f"{ds.name} down hides the probes of {ds.name}",
                    source_matchers=(f'alertname="{down}"', f'datastore="{ds.name}"'),
                    target_matchers=('alertname="ProbeFailing"', f'service="{ds.name}"'),
                    equal=("environment",),
                )
            )
    return rules


def _inhibit(rule: InhibitRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source_matchers": list(rule.source_matchers),
        "target_matchers": list(rule.target_matchers),
    }
    if rule.equal:
        out["equal"] = list(rule.equal)
    return out


def _time_interval(interval: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if interval.times:
        spec["times"] = [{"start_time": t.start, "end_time": t.end} for t in interval.times]
    for key in ("weekdays", "days_of_month", "months", "years"):
        if getattr(interval, key):
            spec[key] = list(getattr(interval, key))
    spec["location"] = interval.location
    return {"name": interval.name, "time_intervals": [spec]}


def inhibitions(cfg: Config, alerts: Collection[str]) -> list[InhibitRule]:
    am = cfg.alertmanager
    assert am is not None
    defaults = default_inhibitions(cfg, alerts) if am.default_inhibitions else []
    return defaults + list(am.inhibit_rules)


def config(
    cfg: Config, alerts: Collection[str], *, secrets_dir: str | None = None
) -> dict[str, Any]:
    """Alertmanager's configuration as data; ``secrets_dir`` re-roots the secret files
    (kube-prometheus-stack mounts them elsewhere than a plain install may)."""
    am = cfg.alertmanager
    assert am is not None and am.route is not None
    secrets = secrets_dir or am.secrets_dir
    top: dict[str, Any] = {"resolve_timeout": str(am.resolve_timeout)}
    if am.smtp is not None:
        top["smtp_smarthost"] = am.smtp.smarthost
        top["smtp_from"] = am.smtp.from_
        if am.smtp.auth_username is not None:
            top["smtp_auth_username"] = am.smtp.auth_username
        if am.smtp.auth_password_file is not None:
            top["smtp_auth_password_file"] = _secret(secrets, am.smtp.auth_password_file)
        top["smtp_require_tls"] = am.smtp.require_tls
    receivers = [_receiver(r, secrets, am) for r in am.receivers]
    routes = [_route(r) for r in am.route.routes]
    heartbeat = heartbeat_receiver_name(am)
    if am.heartbeat is not None and heartbeat is not None:
        target = am.receiver(am.heartbeat.receiver)
        assert target is not None
        receivers.append(
            {
                "name": heartbeat,
                "webhook_configs": [_daemon_webhook(target, secrets, HEARTBEAT_PATH, False)],
            }
        )
        every = str(am.heartbeat.interval)
        routes.insert(
            0,
            {
                "receiver": heartbeat,
                "matchers": [f'alertname="{WATCHDOG}"'],
                "group_by": ["alertname"],
                "group_wait": "0s",
                "group_interval": every,
                "repeat_interval": every,
            },
        )
    root: dict[str, Any] = {
        "receiver": am.route.receiver,
        "group_by": list(am.route.group_by),
        "group_wait": str(am.route.group_wait),
        "group_interval": str(am.route.group_interval),
        "repeat_interval": str(am.route.repeat_interval),
    }
    if routes:
        root["routes"] = routes
    out: dict[str, Any] = {"global": top, "route": root, "receivers": receivers}
    rules = inhibitions(cfg, alerts)
    if rules:
        out["inhibit_rules"] = [_inhibit(r) for r in rules]
    if am.time_intervals:
        out["time_intervals"] = [_time_interval(t) for t in am.time_intervals]
    return out


def secret_names(cfg: AlertmanagerConfig) -> list[str]:
    """The Secrets the files live in (``<secret>/<key>``), for alertmanagerSpec.secrets."""
    found: set[str] = set()
    if cfg.smtp is not None and cfg.smtp.auth_password_file:
        found.add(cfg.smtp.auth_password_file.split("/")[0])
    for rec in cfg.receivers:
        for integration in (rec.sre_daemon, rec.pagerduty, rec.email, rec.webhook, rec.slack):
            if integration is None:
                continue
            for key, value in vars(integration).items():
                if key.endswith("_file") and value:
                    found.add(str(value).split("/")[0])
    return sorted(found)


# ------------------------------------------------------------------ routing, in Python


def matches(matchers: Collection[str], labels: Mapping[str, str]) -> bool:
    """Alertmanager's matcher semantics: a missing label is the empty string; regexes
    are anchored."""
    for text in matchers:
        name, op, value = parse_matcher(text)
        have = labels.get(name, "")
        if op == "=" and have != value:
            return False
        if op == "!=" and have == value:
            return False
        if op == "=~" and not re.fullmatch(value, have):
            return False
        if op == "!~" and re.fullmatch(value, have):
            return False
    return True


def receivers_for(tree: Mapping[str, Any], labels: Mapping[str, str]) -> tuple[str, ...]:
    """Where Alertmanager sends ``labels`` in a flat rendered tree (root + children)."""
    found: list[str] = []
    for child in tree.get("routes", []):
        if matches(child.get("matchers", []), labels):
            found.append(child["receiver"])
            if not child.get("continue"):
                return tuple(found)
    return tuple(found) or (tree["receiver"],)


def example_labels(matchers: Collection[str]) -> dict[str, str] | None:
    """Labels that satisfy ``matchers``: the value of ``=``, the first alternative of a
    simple ``=~``; None when no such label set can be told (then a team declares a test)."""
    labels: dict[str, str] = {}
    for text in matchers:
        name, op, value = parse_matcher(text)
        if op == "=":
            labels[name] = value
        elif op == "=~":
            first = value.removeprefix("(").removesuffix(")").split("|")[0]
            if any(c in first for c in _REGEX_META):
                return None
            labels[name] = first
    return labels if matches(matchers, labels) else None


def route_cases(cfg: Config, tree: Mapping[str, Any]) -> tuple[list[RouteCase], list[Problem]]:
    """One generated case per route (its own labels reach its own receiver), and the
    team's declared ``route_tests``. A route whose labels never reach it is shadowed."""
    am = cfg.alertmanager
    assert am is not None and am.route is not None
    cases: list[RouteCase] = []
    problems: list[Problem] = []
    base = {"environment": cfg.environment}
    for i, child in enumerate(tree.get("routes", [])):
        where = _route_name(am.route.routes, i, child, am.heartbeat is not None)
        labels = example_labels(child["matchers"])
        if labels is None:
            continue  # cannot be generated: the team's route_tests cover it
        labels = {**base, **labels}
        expected = receivers_for(tree, labels)
        if child["receiver"] not in expected:
            problems.append(
                Problem(
                    "alertmanager-routes",
                    where,
                    f"never reached: an alert with {_show(labels)} goes to "
                    f"{', '.join(expected)} (an earlier route without continue catches it)",
                )
            )
            continue
        cases.append(RouteCase(f"generated: {where}", labels, expected))
    cases.append(
        RouteCase(
            "generated: the root route",
            {"alertname": "SomethingElse"},
            (receivers_for(tree, {"alertname": "SomethingElse"})),
        )
    )
    for i, test in enumerate(am.route_tests):
        cases.append(RouteCase(test.name or f"route_tests[{i}]", dict(test.labels), test.receivers))
    return cases, problems


def _route_name(routes: Any, index: int, child: Mapping[str, Any], heartbeat: bool) -> str:
    if heartbeat and index == 0:
        return "route: the Watchdog heartbeat"
    i = index - 1 if heartbeat else index
    name = routes[i].name if i < len(routes) else ""
    return f"route.routes[{i}]" + (f" ({name})" if name else "")


def _show(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def alertname_problems(cfg: Config, alerts: Collection[str]) -> list[Problem]:
    """A route or inhibition that names an alert no rule defines is a typo or a leftover."""
    known = set(alerts) | {WATCHDOG}
    problems = []
    places: list[tuple[str, Collection[str]]] = []
    am = cfg.alertmanager
    assert am is not None and am.route is not None
    for i, route in enumerate(am.route.routes):
        places.append((f"alertmanager.route.routes[{i}]", route.all_matchers()))
    for i, rule in enumerate(am.inhibit_rules):
        places.append(
            (f"alertmanager.inhibit_rules[{i}]", rule.source_matchers + rule.target_matchers)
        )
    for where, matchers in places:
        for text in matchers:
            name, op, value = parse_matcher(text)
            if name == "alertname" and op == "=" and value not in known:
                problems.append(
                    Problem("alertmanager-routes", where, f"no rule defines the alert {value!r}")
                )
    return problems
