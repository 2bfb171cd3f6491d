"""A fault-injecting TCP proxy for tests: a network between the daemon and one engine.

Listens on 127.0.0.1:<free port> and forwards every connection to a target.
Modes, switchable while connections are open: `pass`, `latency` (N ms added to
each direction, pipelined like a long link), and `drop` (a blackhole or a hung
engine: new connections are accepted and never answered, open ones stop
forwarding; nothing is refused or reset). `heal()` goes back to `pass`, and what
waited during the drop flows on, as TCP retransmits do after a partition. It also
counts the HTTP requests it forwards, by method and path (`requests()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK = 64 * 1024
_REQUEST = re.compile(rb"(GET|HEAD|POST|PUT|DELETE) (/[^ ?]*)[^ ]* HTTP/1\.[01]\r\n")
_VERSION = re.compile(r"^/v[0-9.]+/")
_ID = re.compile(r"^/(containers|images)/[^/]+")


def request_key(method: bytes, path: bytes) -> str:
    """`POST /containers/{id}/start` for `POST /v1.41/containers/job-0-abcde/start`."""
    text = _VERSION.sub("/", path.decode(errors="replace"))
    if not text.startswith(("/containers/json", "/containers/create", "/images/json", "/images/create")):
        text = _ID.sub(lambda m: f"/{m.group(1)}/{{id}}", text)
    return f"{method.decode()} {text}"


class Mode(enum.StrEnum):
    PASS = "pass"
    LATENCY = "latency"
    DROP = "drop"


@dataclass(frozen=True)
class Stats:
    accepted: int  # connections accepted since start
    open: int  # connections open now


class FaultProxy:
    """`with FaultProxy("127.0.0.1", 2375) as proxy:` ... `proxy.drop()`, `proxy.heal()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._mode = Mode.PASS
        self._delay = 0.0
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()  # set while not dropping; used on the proxy's loop only
        self._thread = threading.Thread(target=self._loop.run_forever, name="faultproxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._accepted = 0
        self._requests: Counter[str] = Counter()

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start_server)
        return self

    def stop(self) -> None:
        """Close the listener and every connection; joins the proxy's thread."""
        if not self._thread.is_alive():
            return
        self._call(self._stop_server)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    # -- faults -------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode, delay_ms: float = 0.0) -> None:
        """Switch mode now; `delay_ms` (per direction) applies to `latency`."""

        async def switch() -> None:
            self._mode = Mode(mode)
            self._delay = delay_ms / 1000.0 if mode is Mode.LATENCY else 0.0
            if mode is Mode.DROP:
                self._flowing.clear()
            else:
                self._flowing.set()

        self._call(switch)

    def latency(self, delay_ms: float) -> None:
        self.set_mode(Mode.LATENCY, delay_ms)

    def drop(self) -> None:
        self.set_mode(Mode.DROP)

    def heal(self) -> None:
        self.set_mode(Mode.PASS)

    @contextlib.contextmanager
    def dropped(self) -> Iterator[None]:
        self.drop()
        try:
            yield
        finally:
            self.heal()

    def requests(self, reset: bool = False) -> Counter[str]:
        """HTTP requests forwarded to the target so far, by `METHOD /path` (ids replaced)."""

        async def read() -> Counter[str]:
            out = Counter(self._requests)
            if reset:
                self._requests.clear()
            return out

        return self._call(read)

    def stats(self) -> Stats:
        async def read() -> Stats:
            return Stats(self._accepted, len(self._conns))

        return self._call(read)

    # -- on the proxy's loop ------------------------------------------------
    def _call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(10)

    async def _start_server(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop_server(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            await self._flowing.wait()  # a connection made during a drop hears nothing until heal
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                return
            try:
                await asyncio.gather(self._pipe(reader, up_writer, self._count), self._pipe(up_reader, writer))
            finally:
                up_writer.close()
        except asyncio.CancelledError:
            pass  # stop(): asyncio's stream callback must not see a cancelled connection task
        finally:
            writer.close()
            self._conns.discard(task)

    def _count(self, data: bytes) -> None:
        for match in _REQUEST.finditer(data):
            self._requests[request_key(match.group(1), match.group(2))] += 1

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tap: Callable[[bytes], None] | None = None
    ) -> None:
        """One direction: a reader feeding a delay line that a writer empties in order."""
        line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            while True:
                await self._flowing.wait()
                try:
                    data = await reader.read(CHUNK)
                except OSError:
                    data = b""  # reset by a peer: end this direction as if closed
                await line.put((time.monotonic() + self._delay, data))
                if not data:
                    return

        async def write() -> None:
            while True:
                due, data = await line.get()
                await self._flowing.wait()
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                await self._flowing.wait()  # dropped while delayed: the data waits for the heal
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                if tap is not None:
                    tap(data)
                writer.write(data)
                await writer.drain()

        reading = asyncio.ensure_future(read())
        try:
            await write()
        except OSError:
            pass
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await reading
