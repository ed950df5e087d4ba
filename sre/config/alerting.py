"""How alerts travel once Prometheus fires them: the ``alertmanager`` section's receivers,
routes, inhibitions, time intervals, route tests and heartbeat (rendered into
``build/alertmanager/alertmanager.yaml`` by ``sre.render``).

Secrets are never values here: a receiver names a mounted file, ``<secret>/<key>`` relative
to ``alertmanager.secrets_dir``, which is where a Kubernetes Secret's key lands when the
Secret is mounted there (kube-prometheus-stack mounts ``alertmanagerSpec.secrets`` at
``/etc/alertmanager/secrets/<secret>/<key>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sre.config.durations import Duration
from sre.config.validators import env_name, non_empty, positive, url

_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SECRET_PART = re.compile(r"[a-z0-9]([-a-z0-9._]*[a-z0-9])?")
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(".*"|[^"\s]*)\s*$')
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")
_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _clock(value: str) -> str | None:
    return None if _CLOCK.fullmatch(value) else f"{value!r} is not a time of day like 09:00"


def _weekdays(value: tuple[str, ...]) -> str | None:
    for item in value:
        for day in item.split(":"):
            if day.lower() not in _WEEKDAYS or item.count(":") > 1:
                return f"{item!r} is not a weekday or a range like monday:friday"
    return None


def secret_file(value: str) -> str | None:
    parts = value.split("/")
    if len(parts) == 2 and all(_SECRET_PART.fullmatch(p) for p in parts):
        return None
    return (
        f"{value!r} must be <secret>/<key> (lowercase), relative to alertmanager.secrets_dir, "
        "e.g. pagerduty/routing-key: a file the Secret is mounted as, never the secret itself"
    )


def parse_matcher(text: str) -> tuple[str, str, str]:
    """``severity=~"warning|info"`` -> (name, op, value); ``ValueError`` with the reason."""
    found = _MATCHER.match(text)
    if not found:
        raise ValueError(f'{text!r} is not a matcher (name="value", !=, =~ or !~)')
    name, op, raw = found.groups()
    value = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\") if raw.startswith('"') else raw
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"{text!r}: not a valid regular expression: {err}") from None
    return name, op, value


def matcher_list(value: tuple[str, ...]) -> str | None:
    for text in value:
        try:
            parse_matcher(text)
        except ValueError as err:
            return str(err)
    return None


def label_names(value: tuple[str, ...]) -> str | None:
    bad = [v for v in value if v != "..." and not _LABEL.fullmatch(v)]
    return f"{bad[0]!r} is not a label name" if bad else None


def label_map(value: dict[str, str]) -> str | None:
    bad = [k for k in value if not _LABEL.fullmatch(k)]
    return f"{bad[0]!r} is not a label name" if bad else None


@dataclass(frozen=True)
class DaemonReceiver:
    """The SRE daemon's webhook: it posts to Slack (``slack.routes`` picks the channel)."""

    url: str = field(metadata={"check": url})  # the daemon as Alertmanager reaches it
    token_file: str = field(default="sre-webhook/token", metadata={"check": secret_file})
    max_alerts: int = 0  # 0: all alerts of a group in one webhook


@dataclass(frozen=True)
class PagerDutyReceiver:
    """PagerDuty Events API v2."""

    routing_key_file: str = field(metadata={"check": secret_file})
    url: str | None = field(default=None, metadata={"check": url})  # default: PagerDuty's


@dataclass(frozen=True)
class EmailReceiver:
    to: str = field(metadata={"check": non_empty})
    from_: str | None = field(default=None, metadata={"key": "from"})
    smarthost: str | None = None  # host:port; default alertmanager.smtp.smarthost
    auth_username: str | None = None
    auth_password_file: str | None = field(default=None, metadata={"check": secret_file})
    require_tls: bool | None = None


@dataclass(frozen=True)
class WebhookReceiver:
    """Any other HTTP receiver; its URL may hold a token, so it may come from a file too."""

    url: str | None = field(default=None, metadata={"check": url})
    url_file: str | None = field(default=None, metadata={"check": secret_file})
    bearer_token_file: str | None = field(default=None, metadata={"check": secret_file})

    def _problems(self) -> list[tuple[str, str]]:
        if (self.url is None) == (self.url_file is None):
            return [("", "needs exactly one of url or url_file")]
        return []


@dataclass(frozen=True)
class SlackWebhookReceiver:
    """Alertmanager's own Slack integration (incoming webhook), for a channel the daemon
    does not serve."""

    api_url_file: str = field(metadata={"check": secret_file})
    channel: str = field(metadata={"check": non_empty})


def receiver_name(value: str) -> str | None:
    if not value or "," in value or value != value.strip():
        return f"{value!r} must be a non-empty name without commas or outer spaces"
    return None


@dataclass(frozen=True)
class Receiver:
    name: str = field(metadata={"check": receiver_name})
    sre_daemon: DaemonReceiver | None = None
    pagerduty: PagerDutyReceiver | None = None
    email: EmailReceiver | None = None
    webhook: WebhookReceiver | None = None
    slack: SlackWebhookReceiver | None = None
    send_resolved: bool = True


@dataclass(frozen=True)
class Route:
    """One child of the root route. Routes are tried in order; the first that matches wins,
    unless it says ``continue: true`` (then the next matching one gets the alert too)."""

    receiver: str = field(metadata={"check": non_empty})
    match: dict[str, str] = field(default_factory=dict, metadata={"check": label_map})
    matchers: tuple[str, ...] = field(default=(), metadata={"check": matcher_list})
    continue_: bool = field(default=False, metadata={"key": "continue"})
    group_by: tuple[str, ...] | None = field(default=None, metadata={"check": label_names})
    group_wait: Duration | None = None
    group_interval: Duration | None = field(default=None, metadata={"check": positive})
    repeat_interval: Duration | None = field(default=None, metadata={"check": positive})
    active_time_intervals: tuple[str, ...] = ()
    mute_time_intervals: tuple[str, ...] = ()
    name: str = ""  # shown in route-test failures; default: the receiver and matchers

    def all_matchers(self) -> tuple[str, ...]:
        """``match`` as equality matchers, then ``matchers``: Alertmanager's form."""
        quoted = tuple(f'{k}="{_quote(v)}"' for k, v in sorted(self.match.items()))
        return quoted + self.matchers

    def _problems(self) -> list[tuple[str, str]]:
        if not self.match and not self.matchers:
            return [("", "needs match or matchers (the root route catches everything else)")]
        return []


@dataclass(frozen=True)
class RootRoute:
    receiver: str = field(metadata={"check": non_empty})
    group_by: tuple[str, ...] = field(
        default=("alertname", "service"), metadata={"check": label_names}
    )
    group_wait: Duration = Duration.of(seconds=30)
    group_interval: Duration = field(default=Duration.of(minutes=5), metadata={"check": positive})
    repeat_interval: Duration = field(default=Duration.of(hours=4), metadata={"check": positive})
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class InhibitRule:
    """While an alert matching ``source_matchers`` fires, alerts matching
    ``target_matchers`` with the same values of the ``equal`` labels are not notified."""

    source_matchers: tuple[str, ...] = field(metadata={"check": matcher_list})
    target_matchers: tuple[str, ...] = field(metadata={"check": matcher_list})
    equal: tuple[str, ...] = field(default=(), metadata={"check": label_names})
    name: str = ""

    def _problems(self) -> list[tuple[str, str]]:
        problems = []
        if not self.source_matchers:
            problems.append(("source_matchers", "must not be empty"))
        if not self.target_matchers:
            problems.append(("target_matchers", "must not be empty"))
        return problems


@dataclass(frozen=True)
class TimeRange:
    start: str = field(metadata={"check": _clock})
    end: str = field(metadata={"check": _clock})


@dataclass(frozen=True)
class TimeInterval:
    """One named interval (Alertmanager ``time_intervals``); every field given must hold."""

    name: str = field(metadata={"check": non_empty})
    weekdays: tuple[str, ...] = field(default=(), metadata={"check": _weekdays})
    times: tuple[TimeRange, ...] = ()
    days_of_month: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    years: tuple[str, ...] = ()
    location: str = "UTC"  # an IANA time zone, e.g. Europe/Berlin


@dataclass(frozen=True)
class RouteTest:
    """A routing promise the team makes: an alert with these labels reaches exactly these
    receivers (checked with ``amtool config routes test`` on every render)."""

    labels: dict[str, str] = field(metadata={"check": label_map})
    receivers: tuple[str, ...] = field(metadata={"check": non_empty})
    name: str = ""


@dataclass(frozen=True)
class Smtp:
    smarthost: str = field(metadata={"check": non_empty})  # host:port
    from_: str = field(metadata={"key": "from", "check": non_empty})
    auth_username: str | None = None
    auth_password_file: str | None = field(default=None, metadata={"check": secret_file})
    require_tls: bool = True


@dataclass(frozen=True)
class Heartbeat:
    """The dead man's switch: ``Watchdog`` always fires; Alertmanager sends it to the
    daemon every ``interval``, and the daemon speaks up after ``max_silence`` without it."""

    receiver: str = field(default="", metadata={"check": non_empty})  # an sre_daemon receiver
    interval: Duration = field(default=Duration.of(minutes=1), metadata={"check": positive})
    max_silence: Duration = field(default=Duration.of(minutes=5), metadata={"check": positive})
    # Where the daemon pages when the heartbeat stops (PagerDuty Events v2 routing key).
    pagerduty_routing_key_env: str | None = field(default=None, metadata={"check": env_name})

    def _problems(self) -> list[tuple[str, str]]:
        if self.max_silence <= self.interval:
            return [("max_silence", f"must be longer than the interval ({self.interval})")]
        return []


@dataclass(frozen=True)
class AlertmanagerConfig:
    url: str = field(metadata={"check": url})
    # Where people open silence links; defaults to ``url``.
    public_url: str | None = field(default=None, metadata={"check": url})
    # Routing, rendered into build/alertmanager/alertmanager.yaml (sre.config.alerting).
    # Without ``route`` no Alertmanager configuration is rendered.
    secrets_dir: str = "/etc/alertmanager/secrets"
    resolve_timeout: Duration = field(default=Duration.of(minutes=5), metadata={"check": positive})
    smtp: Smtp | None = None
    receivers: tuple[Receiver, ...] = ()
    route: RootRoute | None = None
    default_inhibitions: bool = True
    inhibit_rules: tuple[InhibitRule, ...] = ()
    time_intervals: tuple[TimeInterval, ...] = ()
    route_tests: tuple[RouteTest, ...] = ()
    heartbeat: Heartbeat | None = None

    def receiver(self, name: str) -> Receiver | None:
        return next((r for r in self.receivers if r.name == name), None)

    def _problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        names = [r.name for r in self.receivers if isinstance(r, Receiver)]
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.append((f"receivers[{i}].name", f"{name!r} is used twice"))
        for i, rec in enumerate(self.receivers):
            email = getattr(rec, "email", None)
            if email is not None and email.smarthost is None and self.smtp is None:
                problems.append((f"receivers[{i}].email", "needs smarthost, or an smtp section"))
            if email is not None and email.from_ is None and self.smtp is None:
                problems.append((f"receivers[{i}].email", "needs from, or an smtp section"))
        intervals = {t.name for t in self.time_intervals if isinstance(t, TimeInterval)}
        if self.route is not None and isinstance(self.route, RootRoute):
            if self.route.receiver not in names:
                problems.append(("route.receiver", f"{self.route.receiver!r} is not a receiver"))
            for i, route in enumerate(self.route.routes):
                if route.receiver not in names:
                    problems.append(
                        (f"route.routes[{i}].receiver", f"{route.receiver!r} is not a receiver")
                    )
                for key in ("active_time_intervals", "mute_time_intervals"):
                    for name in getattr(route, key):
                        if name not in intervals:
                            problems.append(
                                (f"route.routes[{i}].{key}", f"{name!r} is not a time interval")
                            )
        elif self.route_tests or self.heartbeat is not None:
            problems.append(("route", "route_tests and heartbeat need a route"))
        # The heartbeat's receiver is generated: <receiver>-heartbeat.
        routable = names + ([f"{self.heartbeat.receiver}-heartbeat"] if self.heartbeat else [])
        for i, test in enumerate(self.route_tests):
            for name in test.receivers:
                if name not in routable:
                    problems.append((f"route_tests[{i}].receivers", f"{name!r} is not a receiver"))
        if self.heartbeat is not None:
            target = self.receiver(self.heartbeat.receiver)
            if target is None or target.sre_daemon is None:
                problems.append(
                    (
                        "heartbeat.receiver",
                        f"{self.heartbeat.receiver!r} is not an sre_daemon receiver",
                    )
                )
        return problems
