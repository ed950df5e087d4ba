"""The local Slack server answers slack_sdk the way Slack does (so other tests can trust it)."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient

from sre.devtools.fake_slack import FakeSlack


def test_post_update_thread_and_errors() -> None:
    with FakeSlack(channels=("#alerts",)) as slack:
        client = WebClient(token=slack.token, base_url=slack.base_url)
        posted = client.chat_postMessage(channel="#alerts", text="hello")
        ts = posted["ts"]
        client.chat_update(channel="#alerts", ts=ts, text="updated")
        client.chat_postMessage(channel="#alerts", text="reply", thread_ts=ts)
        message = slack.messages[("#alerts", ts)]
        assert [u["text"] for u in message.updates] == ["updated"]
        assert [r["text"] for r in message.thread_replies] == ["reply"]
        with pytest.raises(SlackApiError) as missing:
            client.chat_postMessage(channel="#nope", text="x")
        assert missing.value.response["error"] == "channel_not_found"
        bad = WebClient(token="xoxb-wrong", base_url=slack.base_url)
        with pytest.raises(SlackApiError) as auth:
            bad.chat_postMessage(channel="#alerts", text="x")
        assert auth.value.response["error"] == "invalid_auth"


def test_injected_failures() -> None:
    with FakeSlack() as slack:
        client = WebClient(token=slack.token, base_url=slack.base_url)
        slack.fail_next(1, status=429, retry_after=2)
        with pytest.raises(SlackApiError) as limited:
            client.chat_postMessage(channel="#a", text="x")
        assert limited.value.response.status_code == 429
        assert limited.value.response.headers["Retry-After"] == "2"
        slack.fail_next(1, status=500)
        with pytest.raises(SlackApiError) as broken:
            client.chat_postMessage(channel="#a", text="x")
        assert broken.value.response.status_code == 500
        assert client.chat_postMessage(channel="#a", text="x")["ok"] is True
        assert len(slack.posts()) == 1
