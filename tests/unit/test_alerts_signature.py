"""Slack v0 signature verification with its 5-minute replay window."""

from __future__ import annotations

from sre.features.alerts.signature import sign, verify

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
NOW = 1_795_723_200.0


def test_slack_documented_example() -> None:
    # The worked example from Slack's "Verifying requests from Slack" page.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert (
        sign(SECRET, "1531420618", body)
        == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_valid_request() -> None:
    ts = str(int(NOW))
    assert (
        verify(SECRET, timestamp=ts, signature=sign(SECRET, ts, BODY), body=BODY, now=NOW) is None
    )


def test_rejections_say_why() -> None:
    ts = str(int(NOW))
    good = sign(SECRET, ts, BODY)
    assert verify(SECRET, timestamp=ts, signature=None, body=BODY, now=NOW) == (
        "missing signature headers"
    )
    assert verify(SECRET, timestamp="soon", signature=good, body=BODY, now=NOW) == (
        "timestamp is not an integer"
    )
    old = str(int(NOW) - 301)
    assert verify(SECRET, timestamp=old, signature=sign(SECRET, old, BODY), body=BODY, now=NOW) == (
        "timestamp outside the 5-minute replay window"
    )
    assert verify(SECRET, timestamp=ts, signature=good, body=BODY + b"x", now=NOW) == (
        "signature mismatch"
    )
    assert verify("other", timestamp=ts, signature=good, body=BODY, now=NOW) == (
        "signature mismatch"
    )


def test_odd_header_values_are_rejections_not_crashes() -> None:
    ts = str(int(NOW))
    assert verify(SECRET, timestamp=ts, signature="v0=é", body=BODY, now=NOW) == (
        "signature mismatch"
    )
    assert verify(SECRET, timestamp="١٧٩٥", signature="v0=x", body=BODY, now=NOW) == (
        "timestamp is not an integer"
    )
