"""Servers the benchmark scripts start: a free loopback port, waiting until one answers, its CPU time,
stopping it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(process: subprocess.Popen[bytes], url: str, timeout: float, interval: float = 0.1) -> str | None:
    """Poll `url` until it answers 200 and return None; else say why not (the process exited, or time ran out)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            return f"it exited with {process.returncode}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            return f"it did not answer on {url} within {timeout:.0f} s"
        time.sleep(interval)


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Terminate the process, and kill it if it has not ended within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None when it is not ours to read."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)
