"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for a request's headers.

uvicorn closes a connection idle between requests (`timeout_keep_alive`), but has no
limit on how long a client may take to send a request's headers: one that sends them a
byte at a time, or never finishes them, holds its connection, and enough such
connections use up the server's file descriptors (slowloris). Here a connection whose
request headers are not complete HEADER_TIMEOUT seconds after it opened, or after the
first byte of a later request on it, is closed. A request whose headers arrived is never
cut short: its body, its response and event streams are not timed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 5.0  # seconds

log = logging.getLogger("vaultsync.server")


class HeaderDeadlineProtocol(H11Protocol):
    """H11Protocol that closes a connection still sending request headers after
    `header_timeout` seconds."""

    header_timeout = HEADER_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            self._disarm()
        elif self.conn.their_state is h11.IDLE:
            self._arm()  # a request's headers are on their way (or yet to come)
        else:
            self._disarm()  # headers complete: the request runs untimed

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout,
                                                         self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.debug("closing %s: no complete request headers within %g s",
                      self.client, self.header_timeout)
            self.transport.close()


def protocol_with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """HeaderDeadlineProtocol with another deadline (tests use a short one)."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,),
                {"header_timeout": seconds})
