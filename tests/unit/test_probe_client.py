"""The probe client against small local servers: wire format, completion, failure reasons."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Awaitable, Callable

import pytest
import trustme

from sre.checks.probe import Observation
from sre.clients.probe import Prober, parse_response, prepare
from sre.config import Probe
from sre.config.durations import Duration
from tests.helpers import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def probe(url: str, **kw: object) -> Probe:
    kw.setdefault("timeout", Duration.of(seconds=1))
    return Probe(url=url, name="t", service="s", **kw)  # type: ignore[arg-type]


async def with_server(
    handler: Handler,
    run: Callable[[int], Awaitable[Observation]],
    ssl_ctx: ssl.SSLContext | None = None,
) -> Observation:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        return await run(port)
    finally:
        server.close()


def answer(raw: bytes, *, keep_open: bool = False, seen: list[bytes] | None = None) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        if seen is not None:
            seen.append(request)
        writer.write(raw)
        await writer.drain()
        if keep_open:  # a server that ignores "Connection: close"
            await asyncio.sleep(5)
        writer.close()

    return handler


def run_probe(handler: Handler, path: str = "/h", **kw: object) -> Observation:
    async def go(port: int) -> Observation:
        prober = Prober()
        try:
            return await prober.probe(prepare(probe(f"http://127.0.0.1:{port}{path}", **kw)))
        finally:
            await prober.close()

    return asyncio.run(with_server(handler, go))


def test_request_wire_format() -> None:
    seen: list[bytes] = []
    result = run_probe(
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", seen=seen), "/h?x=1"
    )
    assert result.status == 200 and result.body == b"ok" and result.error is None
    head = seen[0].decode()
    assert head.startswith("GET /h?x=1 HTTP/1.1\r\n")
    assert "\r\nConnection: close\r\n" in head and "\r\nHost: 127.0.0.1:" in head


def test_content_length_completes_without_waiting_for_close() -> None:
    raw = b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"
    result = run_probe(answer(raw, keep_open=True))
    assert (result.status, result.body, result.error) == (503, b"busy", None)
    assert result.duration < 1.0


def test_chunked_body_is_decoded() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    )
    assert run_probe(answer(raw, keep_open=True)).body == b"abcde"


def test_head_and_read_to_close() -> None:
    head = run_probe(
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", keep_open=True), method="HEAD"
    )
    assert head.status == 200 and head.error is None
    until_close = run_probe(answer(b"HTTP/1.0 200 OK\r\n\r\nall of it"))
    assert until_close.body == b"all of it"


def test_garbage_and_silence() -> None:
    assert run_probe(answer(b"SSH-2.0-OpenSSH\r\n\r\n")).error == "other"
    slow = run_probe(answer(b"", keep_open=True), timeout=Duration.of(seconds=0.3))
    assert slow.error == "timeout" and 0.25 < slow.duration < 1.0


def test_refused_and_dns() -> None:
    async def go() -> tuple[Observation, Observation, Observation]:
        prober = Prober()
        port = free_port()
        return (
            await prober.probe(prepare(probe(f"http://127.0.0.1:{port}/"))),
            await prober.probe(prepare(probe(f"tcp://127.0.0.1:{port}"))),
            await prober.probe(prepare(probe("http://no-such-host.invalid/"))),
        )

    http_refused, tcp_refused, dns = asyncio.run(go())
    assert http_refused.error == tcp_refused.error == "connect_refused"
    assert dns.error == "dns"


def test_tls_expiry_on_success_and_on_an_untrusted_cert() -> None:
    ca = trustme.CA()
    not_after = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    leaf = ca.issue_cert("127.0.0.1", not_after=not_after)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(server_ctx)
    handler = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    async def go(port: int) -> tuple[Observation, Observation, Observation]:
        prober = Prober()
        untrusted = await prober.probe(prepare(probe(f"https://127.0.0.1:{port}/")))
        insecure = await prober.probe(
            prepare(probe(f"https://127.0.0.1:{port}/", tls_verify=False))
        )
        ca.configure_trust(prober._verify)  # trust the test CA, as SSL_CERT_FILE would
        trusted = await prober.probe(prepare(probe(f"https://127.0.0.1:{port}/")))
        return untrusted, insecure, trusted

    untrusted, insecure, trusted = asyncio.run(with_server(handler, go, server_ctx))
    assert untrusted.error == "tls" and untrusted.status is None
    assert untrusted.cert_not_after == not_after.timestamp()  # read by a second handshake
    assert insecure.error is None and insecure.status == 200
    assert trusted.error is None and trusted.cert_not_after == not_after.timestamp()


def test_keepalive_probes_use_the_pooled_session() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    result = run_probe(answer(raw, keep_open=True), keepalive=True)
    assert (result.status, result.body, result.error) == (200, b"hello", None)


def test_parse_response_rejects_non_http() -> None:
    import pytest

    with pytest.raises(ValueError):
        parse_response(b"hello")
    assert parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n") == (404, b"")


@pytest.mark.parametrize(
    ("url", "request_line", "host_header"),
    [
        ("http://127.0.0.1:1/h€alth", b"GET /h%E2%82%ACalth HTTP/1.1", b"Host: 127.0.0.1:1"),
        ("http://x/a b", b"GET /a%20b HTTP/1.1", b"Host: x"),
        (
            "http://bücher.example/x?q=ä",
            b"GET /x?q=%C3%A4 HTTP/1.1",
            b"Host: xn--bcher-kva.example",
        ),
        ("http://[::1]:8080/ok?a=1&b=2", b"GET /ok?a=1&b=2 HTTP/1.1", b"Host: [::1]:8080"),
    ],
)
def test_request_line_is_always_valid_http(
    url: str, request_line: bytes, host_header: bytes
) -> None:
    wire = prepare(Probe(url=url)).wire.split(b"\r\n")
    assert wire[0] == request_line
    assert wire[1] == host_header
