"""A small HTTP/1.1 client for what wrk cannot do: one pass over a list of requests (to warm
a cache and check every answer), a burst of N requests sent at the same moment on N
connections (coalescing), and one request at a time with its latency (a miss).

Requests are raw bytes made by `post()` / `get()`, so the very same bytes go to every
server. Connections are kept alive; a server that closes (HTTP/1.0 `openssl ocsp`) is
reconnected to.
"""
from __future__ import annotations

import asyncio
import dataclasses
import socket
import time


def post(target: str, host: str, body: bytes, extra: str = "") -> bytes:
    """`extra`: more header lines, each ending in CRLF."""
    return (f"POST {target} HTTP/1.1\r\nHost: {host}\r\n{extra}"
            "Content-Type: application/ocsp-request\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def get(target: str, host: str, extra: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    close = (headers.get("connection", "").lower() == "close"
             or (version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive"))
    return int(status), headers, close


async def _read_answer(reader: asyncio.StreamReader) -> tuple[Answer, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status, headers, close = _parse_head(head[:-4])
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body, close = await reader.read(), True
    return Answer(status, headers, body), close


class _Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def exchange(self, raw: bytes) -> Answer:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(raw)
                await self.writer.drain()
                answer, close = await _read_answer(self.reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                # a kept-alive connection the server had closed: once more on a new one
                self.close()
                if attempt == 2:
                    raise
                continue
            if close:
                self.close()
            return answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = self.reader = None


async def _pass(host: str, port: int, raws: list[bytes], concurrency: int) -> list[Answer]:
    answers: list[Answer | None] = [None] * len(raws)
    next_index = 0

    async def worker():
        nonlocal next_index
        conn = _Connection(host, port)
        try:
            while next_index < len(raws):
                i = next_index
                next_index += 1
                answers[i] = await conn.exchange(raws[i])
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(raws)))))
    return answers  # type: ignore[return-value]


def one_pass(host: str, port: int, raws: list[bytes], concurrency: int = 16) -> list[Answer]:
    """Each request once, `concurrency` at a time; answers in request order."""
    return asyncio.run(_pass(host, port, raws, concurrency))


async def _burst(host: str, port: int, raws: list[bytes]) -> tuple[list[Answer], float]:
    conns = [await asyncio.open_connection(host, port) for _ in raws]
    started = time.perf_counter()
    for (_, writer), raw in zip(conns, raws):
        writer.write(raw)  # buffered; all are handed to the kernel before any answer is read
    await asyncio.gather(*(writer.drain() for _, writer in conns))
    answers = await asyncio.gather(*(_read_answer(reader) for reader, _ in conns))
    elapsed = time.perf_counter() - started
    for _, writer in conns:
        writer.close()
    return [a for a, _ in answers], elapsed


def burst(host: str, port: int, raws: list[bytes]) -> tuple[list[Answer], float]:
    """All requests at once, each on a connection of its own opened beforehand; the answers
    and the seconds from the first write to the last answer."""
    return asyncio.run(_burst(host, port, raws))


class BlockingClient:
    """One keep-alive connection, one request at a time, timed with perf_counter: for
    latencies of a few hundred microseconds without an event loop in the way."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        return chunk

    def timed(self, raw: bytes) -> tuple[Answer, float]:
        """The answer and its latency in seconds, connect included when the server closed
        the previous connection (as a client of that server would pay it)."""
        started = time.perf_counter()
        if self.sock is None:
            self._connect()
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status, headers, close = _parse_head(head)
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(self.buf) < length:
                self.buf += self._recv()
            body, self.buf = self.buf[:length], self.buf[length:]
        else:
            while chunk := self.sock.recv(65536):
                self.buf += chunk
            body, self.buf, close = self.buf, b"", True
        elapsed = time.perf_counter() - started
        if close:
            self.close()
        return Answer(status, headers, body), elapsed

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
