"""Pure probe logic: verdicts, the per-target state machine, offsets, certificate expiry."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from sre.checks.probe import (
    BODY,
    CONNECT_REFUSED,
    OTHER,
    REASONS,
    STATUS,
    TIMEOUT,
    Observation,
    ProbeState,
    Verdict,
    advance,
    classify,
    der_not_after,
    start_offset,
)
from sre.config import Probe
from sre.config.durations import Duration


def http(**kw: object) -> Probe:
    return Probe(url="http://svc/healthz", name="health", service="api", **kw)  # type: ignore[arg-type]


def test_reasons_are_the_documented_set() -> None:
    assert REASONS == ("timeout", "connect_refused", "dns", "tls", "status", "body", "other")


@pytest.mark.parametrize(
    ("status", "expect", "verdict"),
    [
        (200, (), Verdict(True)),
        (204, (), Verdict(True)),
        (299, (), Verdict(True)),
        (301, (), Verdict(False, STATUS)),
        (500, (), Verdict(False, STATUS)),
        (503, (503,), Verdict(True)),
        (200, (204, 301), Verdict(False, STATUS)),
        (301, (204, 301), Verdict(True)),
    ],
)
def test_status(status: int, expect: tuple[int, ...], verdict: Verdict) -> None:
    assert classify(http(expect_status=expect), Observation(0.1, status=status)) == verdict


def test_body_regex() -> None:
    probe = http(body_regex=r'"status":\s*"ok"')
    assert classify(probe, Observation(0.1, status=200, body=b'{"status": "ok"}')).success
    wrong = classify(probe, Observation(0.1, status=200, body=b'{"status": "degraded"}'))
    assert wrong == Verdict(False, BODY)
    # The status is judged first: a 500 with a matching body is a status failure.
    assert classify(probe, Observation(0.1, status=500, body=b'"status": "ok"')).reason == STATUS


def test_transport_errors_pass_through_and_unknown_becomes_other() -> None:
    assert classify(http(), Observation(2.0, error=TIMEOUT)) == Verdict(False, TIMEOUT)
    assert classify(http(), Observation(0.0, error="weird")) == Verdict(False, OTHER)
    assert classify(http(), Observation(0.0)) == Verdict(False, OTHER)  # no status at all


def test_tcp_needs_only_a_connection() -> None:
    tcp = Probe(url="tcp://redis:6379", name="redis", service="redis")
    assert classify(tcp, Observation(0.01)) == Verdict(True)
    assert classify(tcp, Observation(0.01, error=CONNECT_REFUSED)).reason == CONNECT_REFUSED


def test_state_machine_counts_and_transitions() -> None:
    state = ProbeState(service="api", target="health")
    assert state.up is None and state.since is None

    state = advance(state, Verdict(True), now=100.0)
    assert (state.up, state.since, state.consecutive_successes) == (True, 100.0, 1)
    state = advance(state, Verdict(True), now=115.0)
    assert (state.since, state.consecutive_successes, state.consecutive_failures) == (100.0, 2, 0)

    for i, now in enumerate((130.0, 145.0, 160.0), start=1):
        state = advance(state, Verdict(False, STATUS), now=now)
        assert state.consecutive_failures == i
        assert state.since == 130.0  # the up -> down transition
    assert (state.up, state.last_reason, state.consecutive_successes) == (False, STATUS, 0)

    state = advance(state, Verdict(True), now=175.0)
    assert (state.up, state.since, state.consecutive_failures) == (True, 175.0, 0)
    assert state.probes == 6 and state.last_probe == 175.0


def test_first_probe_failing_is_a_transition() -> None:
    state = advance(ProbeState("api", "health"), Verdict(False, TIMEOUT), now=5.0)
    assert (state.up, state.since, state.consecutive_failures) == (False, 5.0, 1)


def test_offsets_are_stable_in_range_and_spread() -> None:
    interval = Duration.of(seconds=15).seconds
    offsets = [start_offset("svc", f"t{i}", interval) for i in range(2000)]
    assert offsets == [start_offset("svc", f"t{i}", interval) for i in range(2000)]
    assert all(0 <= o < interval for o in offsets)
    # Roughly uniform: each of 15 one-second buckets gets 2000/15 = 133 +- a margin.
    buckets = [0] * 15
    for o in offsets:
        buckets[int(o)] += 1
    assert min(buckets) > 90 and max(buckets) < 180
    assert 6.5 < statistics.mean(offsets) < 8.5
    assert start_offset("a", "b", 15) != start_offset("b", "a", 15)


@pytest.mark.parametrize(
    "not_after",
    [
        dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC),  # UTCTime
        dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC),  # UTCTime, last year of it
        dt.datetime(2051, 6, 1, 0, 0, 0, tzinfo=dt.UTC),  # GeneralizedTime
    ],
)
def test_der_not_after_matches_cryptography(not_after: dt.datetime) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert(
        "127.0.0.1",
        not_before=dt.datetime(2019, 1, 1, tzinfo=dt.UTC),
        not_after=not_after,
    )
    pem = leaf.cert_chain_pems[0].bytes()
    cert = x509.load_pem_x509_certificate(pem)
    der = cert.public_bytes(Encoding.DER)
    assert der_not_after(der) == cert.not_valid_after_utc.timestamp() == not_after.timestamp()


@pytest.mark.parametrize("junk", [b"", b"\x30\x03\x02\x01", b"\x30\x82\xff\xff" + b"\x00" * 10])
def test_der_not_after_rejects_junk(junk: bytes) -> None:
    with pytest.raises(ValueError):
        der_not_after(junk)
