"""Owner tokens for claims and leases, and telling whether an owner is gone.

A token names the host and process that holds a claim. On the same host a dead process is
detected at once (so a run killed with SIGKILL does not block the next run for a lease
period); on another host the lease's expiry is the only safe signal.
"""

from __future__ import annotations

import os
import socket
import uuid

_HOST = socket.gethostname()


def new_owner_token(purpose: str = "run") -> str:
    """``host:pid:purpose:nonce`` — unique per call, so every claim is its own CAS token."""
    return f"{_HOST}:{os.getpid()}:{purpose}:{uuid.uuid4().hex[:12]}"


def on_this_host(token: str | None) -> bool:
    """Whether the owner runs on this host, where :func:`owner_is_dead` can tell."""
    return bool(token) and str(token).split(":", 1)[0] == _HOST


def owner_is_dead(token: str | None) -> bool:
    """True only when the owner certainly no longer runs (same host, process gone)."""
    if not token:
        return True
    parts = token.split(":")
    if len(parts) < 2 or parts[0] != _HOST:
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child not yet reaped still answers kill(0); its state in /proc says 'Z'."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
