"""`lgsp.gateway.coalesce`: a loop turn's writes leave in one write of the real transport, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from lgsp.gateway.coalesce import CoalescingTransport


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


async def test_head_and_body_leave_in_one_write_in_order() -> None:
    real = Recording()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"")  # nothing to send: no effect
    transport.write(memoryview(b"ok"))
    assert real.writes == [] and transport.get_write_buffer_size() == 40
    await asyncio.sleep(0)
    assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert real.writes[1:] == [b"next"]  # a later turn: its own write
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the real transport's


async def test_close_sends_what_is_held_and_abort_drops_it() -> None:
    real = Recording()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert real.writes == [b"last words"] and real.closed
    await asyncio.sleep(0)
    assert real.writes == [b"last words"]  # the scheduled flush finds nothing left

    real = Recording()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"never sent")
    transport.abort()
    await asyncio.sleep(0)
    assert real.writes == [] and real.aborted


async def test_nothing_is_written_to_a_transport_already_closing() -> None:
    real = Recording()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"late")
    real.closed = True  # the peer went away before the flush
    await asyncio.sleep(0)
    assert real.writes == []
