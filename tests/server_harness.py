"""A real ``evalstore serve`` in a subprocess, for the server tests (no mocks, a real socket).

The server listens on port 0 (a free port the kernel picks) and prints its URL; its output
goes to a file, so that a chatty access log can never fill a pipe and stall it.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

#: Debian's Chromium, for the browser tests
CHROMIUM = Path("/usr/bin/chromium")
#: without these, headless Chromium as root in a sandbox stalls on blocked network calls
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: the shared server's body limit: small, so that modest frames travel in many chunks and a
#: 413 is cheap to reach
SHARED_LIMIT = "1MB"


class Server:
    """``evalstore serve --port 0 --store STORE ARGS...``, started and waited for."""

    def __init__(
        self, store: Path, *args: str, api_key: str | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.store = store
        self.args = args
        self.api_key = api_key
        self.host = host
        self.log = store.parent / f"{store.name}-server-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def start(self, timeout: float = 30) -> Server:
        env = {k: v for k, v in os.environ.items() if k != "EVALSTORE_API_KEY"}
        if self.api_key:
            env["EVALSTORE_API_KEY"] = self.api_key
        cmd = [sys.executable, "-m", "evalstore", "serve", "--host", self.host, "--port", "0"]
        cmd += ["--store", str(self.store), *self.args]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output()
            found = re.search(r"on http://[^:]+:(\d+)", text)
            if found:
                # a server bound to every address is reached on loopback, and only there
                self.url = f"http://127.0.0.1:{found.group(1)}"
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        else:
            raise RuntimeError(f"server did not start:\n{self.output()}")
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.api("/health"), headers=self.headers).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not answer:\n{self.output()}")

    def api(self, path: str) -> str:
        return f"{self.url}/api/v1{path}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send ``sig`` and wait for the process to end; its exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


_shared: Server | None = None


def shared_server(factory: pytest.TempPathFactory) -> Server:
    """One server for the test modules that only add to its store (under names of their own),
    started on first use and stopped when the tests end: each start costs a second or two."""
    global _shared
    if _shared is None or _shared.proc is None or _shared.proc.poll() is not None:
        _shared = Server(factory.mktemp("shared") / "store", "--max-body-size", SHARED_LIMIT)
        _shared.start()
        atexit.register(_shared.__exit__)
    return _shared
