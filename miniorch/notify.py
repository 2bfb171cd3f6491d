"""systemd's sd_notify protocol: one datagram to $NOTIFY_SOCKET, no dependency.

A no-op when the daemon does not run under systemd (`Type=notify`);
`watchdog_interval` says how often to send WATCHDOG=1 when `WatchdogSec` is set.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.connect(address)
            # Never block the event loop on a receiver that is not reading: drop the message instead.
            sock.send(message.encode(), socket.MSG_DONTWAIT)
        except OSError:
            return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings asked for by systemd's WatchdogSec, or None.

    Half of $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; ignored when
    $WATCHDOG_PID names another process (the variable was inherited).
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6
