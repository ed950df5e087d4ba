"""Redaction of command output and arguments: configured secrets and credential shapes."""

from __future__ import annotations

import pytest

from sre.config import parse_config
from sre.runtime.redact import MASK, Redactor, configured, env_names


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("PGPASSWORD=hunter22 psql", f"PGPASSWORD={MASK} psql"),
        ("--password=s3cr3t! --user x", f"--password={MASK} --user x"),
        ('{"api_key": "abc123def"}', f'{{"api_key": "{MASK}"}}'),
        ("token: tkn-42-xyz", f"token: {MASK}"),
        ("Authorization: Bearer abcdefghijk", f"Authorization: Bearer {MASK}"),
        ("curl -H 'x' bearer abcdefghijk", f"curl -H 'x' bearer {MASK}"),
        ("posting with xoxb-1234-5678-abcdef", f"posting with {MASK}"),
        ("key AKIAABCDEFGHIJKLMNOP used", f"key {MASK} used"),
        ("postgresql://app:pa55word@db:5432/x", f"postgresql://app:{MASK}@db:5432/x"),
        ("deployment.apps/api rolled back", "deployment.apps/api rolled back"),
    ],
)
def test_credential_shapes_are_masked(text: str, shown: str) -> None:
    assert Redactor().text(text) == shown


def test_configured_secrets_are_masked_anywhere() -> None:
    cfg = parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://p:9090"},
            "runbooks": {"base_url": "http://r/"},
            "services": [{"name": "a", "namespace": "n"}],
            "slack": {},
            "grafana": {"url": "http://g:3000", "token_env": "GF_TOKEN"},
        }
    )
    assert {"SRE_WEBHOOK_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "GF_TOKEN"} <= set(
        env_names(cfg)
    )
    env = {"GF_TOKEN": "glsa_supersecretvalue", "SLACK_SIGNING_SECRET": "8f3e", "PGPASSWORD": "pw"}
    redactor = configured(cfg, env)
    out = redactor.data({"argv": ["run", "glsa_supersecretvalue"], "output": "sig 8f3e ok pw"})
    assert out == {"argv": ["run", MASK], "output": f"sig {MASK} ok pw"}  # "pw": too short
