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
from dataclasses import dataclass

from sre.config import validators as v
from sre.config.durations import Duration
from sre.config.loader import key

_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SECRET_PART = re.compile(r"[a-z0-9]([-a-z0-9._]*[a-z0-9])?")
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(".*"|[^"\s]*)\s*$')
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
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

    url: str = key("the daemon's `/alertmanager` as Alertmanager reaches it", check=v.url)
    token_file: str = key(
        "the bearer token's file, `<secret>/<key>` under `secrets_dir`",
        "sre-webhook/token",
        check=secret_file,
    )
    max_alerts: int = key("alerts per webhook; 0: all alerts of a group in one", 0)


@dataclass(frozen=True)
class PagerDutyReceiver:
    """PagerDuty Events API v2."""

    routing_key_file: str = key(
        "the routing key's file, `<secret>/<key>` under `secrets_dir`", check=secret_file
    )
    url: str | None = key("the Events API; default: PagerDuty's", None, check=v.url)


@dataclass(frozen=True)
class EmailReceiver:
    to: str = key("recipient address(es)", check=v.non_empty)
    from_: str | None = key("sender; default: `smtp.from`", None, name="from")
    smarthost: str | None = key("host:port of the mail server; default: `smtp.smarthost`", None)
    auth_username: str | None = key("SMTP user", None)
    auth_password_file: str | None = key(
        "the SMTP password's file, `<secret>/<key>` under `secrets_dir`", None, check=secret_file
    )
    require_tls: bool | None = key("require STARTTLS; default: `smtp.require_tls`", None)


@dataclass(frozen=True)
class WebhookReceiver:
    """Any other HTTP receiver; its URL may hold a token, so it may come from a file too."""

    url: str | None = key("the URL (exactly one of `url`, `url_file`)", None, check=v.url)
    url_file: str | None = key("a file holding the URL", None, check=secret_file)
    bearer_token_file: str | None = key("a file holding a bearer token", None, check=secret_file)

    def _problems(self) -> list[tuple[str, str]]:
        if (self.url is None) == (self.url_file is None):
            return [("", "needs exactly one of url or url_file")]
        return []


@dataclass(frozen=True)
class SlackWebhookReceiver:
    """Alertmanager's own Slack integration (incoming webhook), for a channel the daemon
    does not serve."""

    api_url_file: str = key("the incoming webhook URL's file", check=secret_file)
    channel: str = key("the channel", check=v.non_empty)


def receiver_name(value: str) -> str | None:
    if not value or "," in value or value != value.strip():
        return f"{value!r} must be a non-empty name without commas or outer spaces"
    return None


@dataclass(frozen=True)
class Receiver:
    """One named receiver: exactly the integrations given."""

    name: str = key("its name in routes and route tests", check=receiver_name)
    sre_daemon: DaemonReceiver | None = key("the SRE daemon's webhook (to Slack)", None)
    pagerduty: PagerDutyReceiver | None = key("PagerDuty Events v2", None)
    email: EmailReceiver | None = key("email", None)
    webhook: WebhookReceiver | None = key("any other webhook", None)
    slack: SlackWebhookReceiver | None = key("Alertmanager's own Slack integration", None)
    send_resolved: bool = key("also notify when alerts resolve", True)


@dataclass(frozen=True)
class Route:
    """One child of the root route. Routes are tried in order; the first that matches wins,
    unless it says ``continue: true`` (then the next matching one gets the alert too)."""

    receiver: str = key("the receiver's name", check=v.non_empty)
    match: dict[str, str] = key("labels that must be equal", factory=dict, check=label_map)
    matchers: tuple[str, ...] = key(
        'Alertmanager matchers (`name="v"`, `!=`, `=~`, `!~`)', (), check=matcher_list
    )
    continue_: bool = key("also try the routes after this one", False, name="continue")
    group_by: tuple[str, ...] | None = key(
        "labels that group alerts into one notification; default: the root's",
        None,
        check=label_names,
    )
    group_wait: Duration | None = key("wait before the first notification; default: root's", None)
    group_interval: Duration | None = key(
        "wait before notifying of new alerts in a group; default: root's", None, check=v.positive
    )
    repeat_interval: Duration | None = key(
        "wait before repeating a notification; default: root's", None, check=v.positive
    )
    active_time_intervals: tuple[str, ...] = key("only active in these time intervals", ())
    mute_time_intervals: tuple[str, ...] = key("muted in these time intervals", ())
    name: str = key("shown in route-test failures; default: the receiver and matchers", "")

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
    receiver: str = key("where alerts no child route takes go", check=v.non_empty)
    group_by: tuple[str, ...] = key(
        "labels that group alerts into one notification",
        ("alertname", "service"),
        check=label_names,
    )
    group_wait: Duration = key(
        "wait before the first notification of a group", Duration.of(seconds=30)
    )
    group_interval: Duration = key(
        "wait before notifying of new alerts in a group", Duration.of(minutes=5), check=v.positive
    )
    repeat_interval: Duration = key(
        "wait before repeating a notification", Duration.of(hours=4), check=v.positive
    )
    routes: tuple[Route, ...] = key("child routes, tried in order", ())


@dataclass(frozen=True)
class InhibitRule:
    """While an alert matching ``source_matchers`` fires, alerts matching
    ``target_matchers`` with the same values of the ``equal`` labels are not notified."""

    source_matchers: tuple[str, ...] = key("the inhibiting alerts", check=matcher_list)
    target_matchers: tuple[str, ...] = key("the inhibited alerts", check=matcher_list)
    equal: tuple[str, ...] = key("labels both must share", (), check=label_names)
    name: str = key("shown in test failures", "")

    def _problems(self) -> list[tuple[str, str]]:
        problems = []
        if not self.source_matchers:
            problems.append(("source_matchers", "must not be empty"))
        if not self.target_matchers:
            problems.append(("target_matchers", "must not be empty"))
        return problems


@dataclass(frozen=True)
class TimeRange:
    start: str = key("from (HH:MM)", check=_clock)
    end: str = key("until (HH:MM)", check=_clock)


@dataclass(frozen=True)
class TimeInterval:
    """One named interval (Alertmanager ``time_intervals``); every field given must hold."""

    name: str = key("its name in routes", check=v.non_empty)
    weekdays: tuple[str, ...] = key("e.g. `monday:friday`", (), check=_weekdays)
    times: tuple[TimeRange, ...] = key("times of day", ())
    days_of_month: tuple[str, ...] = key("e.g. `1:7`, `-1`", ())
    months: tuple[str, ...] = key("e.g. `january:march`", ())
    years: tuple[str, ...] = key("e.g. `2026:2027`", ())
    location: str = key("an IANA time zone, e.g. `Europe/Berlin`", "UTC")


@dataclass(frozen=True)
class RouteTest:
    """A routing promise the team makes: an alert with these labels reaches exactly these
    receivers (checked with ``amtool config routes test`` on every render)."""

    labels: dict[str, str] = key("the alert's labels", check=label_map)
    receivers: tuple[str, ...] = key("exactly these receivers, in order", check=v.non_empty)
    name: str = key("shown when it fails", "")


@dataclass(frozen=True)
class Smtp:
    smarthost: str = key("host:port of the mail server", check=v.non_empty)
    from_: str = key("sender address", check=v.non_empty, name="from")
    auth_username: str | None = key("SMTP user", None)
    auth_password_file: str | None = key(
        "the SMTP password's file, `<secret>/<key>` under `secrets_dir`", None, check=secret_file
    )
    require_tls: bool = key("require STARTTLS", True)


@dataclass(frozen=True)
class Heartbeat:
    """The dead man's switch: ``Watchdog`` always fires; Alertmanager sends it to the
    daemon every ``interval``, and the daemon speaks up after ``max_silence`` without it."""

    receiver: str = key("an `sre_daemon` receiver", "", check=v.non_empty)
    interval: Duration = key(
        "how often Alertmanager repeats the heartbeat", Duration.of(minutes=1), check=v.positive
    )
    max_silence: Duration = key(
        "the daemon speaks up after this long without one", Duration.of(minutes=5), check=v.positive
    )
    pagerduty_routing_key_env: str | None = key(
        "variable holding a PagerDuty Events v2 routing key the daemon also pages",
        None,
        check=v.env_name,
    )
    pagerduty_url: str = key(
        "the Events API v2 endpoint the daemon pages (a local one in tests)",
        PAGERDUTY_EVENTS_URL,
        check=v.url,
    )

    def _problems(self) -> list[tuple[str, str]]:
        if self.max_silence <= self.interval:
            return [("max_silence", f"must be longer than the interval ({self.interval})")]
        return []


@dataclass(frozen=True)
class AlertmanagerConfig:
    """The Alertmanager: the daemon's API peer (silences, reconcile) and, with ``route``,
    the routing rendered into ``build/alertmanager/alertmanager.yaml``."""

    url: str = key("base URL of the Alertmanager API (silences, active alerts)", check=v.url)
    public_url: str | None = key(
        "where people open silence links; default: `url`", None, check=v.url
    )
    secrets_dir: str = key(
        "where Secrets are mounted; `*_file` keys are relative to it", "/etc/alertmanager/secrets"
    )
    resolve_timeout: Duration = key(
        "Alertmanager's resolve_timeout", Duration.of(minutes=5), check=v.positive
    )
    smtp: Smtp | None = key("mail server defaults for email receivers", None)
    receivers: tuple[Receiver, ...] = key("every receiver", ())
    route: RootRoute | None = key("the routing tree; unset: no configuration is rendered", None)
    default_inhibitions: bool = key(
        "add the built-in inhibitions (critical over warning; a service or datastore that "
        "is down over its symptoms)",
        True,
    )
    inhibit_rules: tuple[InhibitRule, ...] = key("more inhibitions", ())
    time_intervals: tuple[TimeInterval, ...] = key("named time intervals", ())
    route_tests: tuple[RouteTest, ...] = key("routing promises checked on every render", ())
    heartbeat: Heartbeat | None = key("the dead man's switch", None)

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
