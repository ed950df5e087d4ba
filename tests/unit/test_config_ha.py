"""``daemon.state: postgresql://...`` and ``daemon.ha``: what is accepted, and clear errors
(naming the key path, never echoing a credential) for what is not."""

from __future__ import annotations

from typing import Any

import pytest

from sre.config import ConfigError, parse_config


def daemon(**keys: Any) -> dict[str, Any]:
    return {"system": "t", "services": [{"name": "a", "namespace": "n"}], "daemon": keys}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://db.example:5432/sre",
        "postgres://db.example/sre",
        "postgresql://db.example/sre?sslmode=verify-full&sslrootcert=/etc/ca.pem",
    ],
)
def test_postgresql_state_is_shared(url: str) -> None:
    cfg = parse_config(daemon(state=url))
    assert cfg.daemon.shared_state
    assert (cfg.daemon.ha.lease_duration.seconds, cfg.daemon.ha.renew_interval.seconds) == (15, 2)


def test_sqlite_is_still_the_default_and_not_shared() -> None:
    cfg = parse_config(daemon())
    assert not cfg.daemon.shared_state
    assert cfg.daemon.state == "sqlite:///var/lib/sre/state.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://sre:hunter2@db/sre", "must not name a user or password"),
        ("postgresql://db/sre?password=hunter2", "must not carry a password"),
        ("postgresql://db", "must be postgresql://HOST[:PORT]/DBNAME"),
        ("mysql://db/sre", "must be sqlite:///path/to/state.db or postgresql://"),
    ],
)
def test_bad_state_urls_say_why_without_the_secret(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(daemon(state=url))
    text = caught.value.render()
    assert "daemon.state:" in text and message in text
    assert "hunter2" not in text


def test_a_renewal_must_fit_three_times_in_a_lease() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(daemon(ha={"lease_duration": "6s", "renew_interval": "3s"}))
    assert "daemon.ha.renew_interval: 3s must be at most a third of lease_duration" in str(
        caught.value
    )
    parse_config(daemon(ha={"lease_duration": "6s", "renew_interval": "2s"}))
