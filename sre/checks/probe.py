"""Probe verdicts and the per-target state machine. Pure: no I/O, no clock (``now`` is passed).

The client (``sre.clients.probe``) reports what it saw as an :class:`Observation`; this
module decides whether that is a success and, if not, which reason from the fixed set
:data:`REASONS` (the ``reason`` label of ``sre_probe_failures_total``) explains it.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import re
from dataclasses import dataclass, replace

from sre.config import Probe

# The fixed, documented set. Rules and dashboards match on these values.
TIMEOUT = "timeout"  # no complete answer within the probe's timeout
CONNECT_REFUSED = "connect_refused"  # TCP RST: nothing listens on the port
DNS = "dns"  # the host name did not resolve
TLS = "tls"  # handshake failed: untrusted, expired, wrong name, protocol error
STATUS = "status"  # HTTP status not in expect_status (or not 2xx)
BODY = "body"  # body_regex did not match
OTHER = "other"  # anything else (reset, malformed response, unreachable network)
REASONS = (TIMEOUT, CONNECT_REFUSED, DNS, TLS, STATUS, BODY, OTHER)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one probe saw. ``error`` is a transport failure reason, already classified."""

    duration: float
    error: str | None = None
    status: int | None = None
    body: bytes = b""
    cert_not_after: float | None = None  # epoch seconds of the peer certificate's notAfter


@dataclass(frozen=True, slots=True)
class Verdict:
    success: bool
    reason: str | None = None  # one of REASONS when not success


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[bytes]:
    return re.compile(pattern.encode())


def classify(probe: Probe, seen: Observation) -> Verdict:
    """Success, or the first reason that explains the failure (transport, status, body)."""
    if seen.error is not None:
        return Verdict(False, seen.error if seen.error in REASONS else OTHER)
    if probe.kind == "tcp":
        return Verdict(True)
    if seen.status is None:
        return Verdict(False, OTHER)
    if probe.expect_status:
        if seen.status not in probe.expect_status:
            return Verdict(False, STATUS)
    elif not 200 <= seen.status < 300:
        return Verdict(False, STATUS)
    if probe.body_regex is not None and not _compiled(probe.body_regex).search(seen.body):
        return Verdict(False, BODY)
    return Verdict(True)


@dataclass(frozen=True, slots=True)
class ProbeState:
    """Per-target state the rollback trigger reads (through ``sre.features.probes.state.Targets``).

    ``up`` is None until the first probe finished. ``since`` is when ``up`` last changed
    (the first probe counts as a change: before it nothing was known).
    """

    service: str
    target: str
    up: bool | None = None
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    since: float | None = None
    last_probe: float | None = None
    last_reason: str | None = None
    probes: int = 0


def advance(state: ProbeState, verdict: Verdict, now: float) -> ProbeState:
    """The state after one more probe result observed at ``now``."""
    changed = state.up is not verdict.success
    return replace(
        state,
        up=verdict.success,
        consecutive_failures=0 if verdict.success else state.consecutive_failures + 1,
        consecutive_successes=state.consecutive_successes + 1 if verdict.success else 0,
        since=now if changed else state.since,
        last_probe=now,
        last_reason=verdict.reason,
        probes=state.probes + 1,
    )


def start_offset(service: str, target: str, interval: float) -> float:
    """A stable offset in [0, interval) per target, so starts spread over the interval.

    Hash-based (not random) so a restart keeps each target in its slot, like Prometheus'
    scrape offsets.
    """
    digest = hashlib.sha256(f"{service}\x00{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * interval


# --------------------------------------------------------------------------- certificates


def _der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER item at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _der_time(tag: int, raw: bytes) -> float:
    text = raw.decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSS; RFC 5280: YY >= 50 is 19YY
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSS
        raise ValueError(f"not a time (tag {tag:#x})")
    fields = (text[0:4], text[4:6], text[6:8], text[8:10], text[10:12], text[12:14])
    year, month, day, hour, minute, second = (int(f) for f in fields)
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def der_not_after(der: bytes) -> float:
    """The notAfter of a DER X.509 certificate, as epoch seconds.

    Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serial,
    signature, issuer, validity SEQUENCE { notBefore, notAfter }, ... }, ... }
    Raises ``ValueError`` on anything else.
    """
    try:
        _, start, _ = _der_item(der, 0)  # Certificate
        _, pos, _ = _der_item(der, start)  # tbsCertificate
        tag, _, end = _der_item(der, pos)
        if tag == 0xA0:  # explicit version
            pos = end
        for _skip in range(3):  # serial, signature algorithm, issuer
            _, _, pos = _der_item(der, pos)
        tag, validity, _ = _der_item(der, pos)
        if tag != 0x30:
            raise ValueError("no validity sequence")
        _, _, after_pos = _der_item(der, validity)  # skip notBefore
        tag, start, end = _der_item(der, after_pos)
        return _der_time(tag, der[start:end])
    except (IndexError, UnicodeDecodeError) as err:
        raise ValueError(f"not a DER certificate: {err}") from None
