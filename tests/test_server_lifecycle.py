"""The server process: SIGTERM keeps every batch whole, uploads survive a restart, an API key
guards anything beyond loopback, and the store's lock points to the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest

import evalstore as es
from evalstore.remote import _ipc
from evalstore.server.app import check_bind, is_loopback, parse_size, serve
from server_harness import Server

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGTERM")

#: listening on every address of this machine (the tests talk to it on loopback only)
LOOSE = ("--host", "0.0.0.0", "--port", "0")
ROWS = 1_200_000
PARTS = 4
ARROW = {"Content-Type": "application/vnd.apache.arrow.stream"}
START = {
    "kind": "inferences",
    "schema": {"prediction_id": "id", "prediction_score": "score", "actual_label": "label"},
    "version": "v1",
    "environment": "production",
}


def _big() -> pa.Table:
    rng = np.random.default_rng(7)
    return pa.table(
        {
            "id": np.arange(ROWS),
            "score": rng.random(ROWS),
            "label": rng.integers(0, 2, ROWS),
            "x": rng.normal(size=ROWS),
        }
    )


def _stored(store: Path) -> tuple[list[tuple[str, int]], int]:
    """(kind, rows) of every batch, and the rows of model m, read with the server stopped."""
    with es.connect(store) as s:
        batches = [(b["kind"], b["rows"]) for b in s._engine.batches()]
        rows = s.model("m").dataset().count() if s.models() else 0
    return batches, rows


def test_sigterm_keeps_batches_whole_and_uploads_survive_restarts(tmp_path: Path) -> None:
    store = tmp_path / "store"
    table = _big()
    step = ROWS // PARTS
    bodies = [_ipc(table.slice(i * step, step)) for i in range(PARTS)]

    # 1. stopped mid-upload: nothing is written, the chunks sent are kept
    server = Server(store).start()
    with httpx.Client(base_url=server.api(""), timeout=120) as http:
        http.post("/models", json={"name": "m", "task": "binary_classification"})
        uid = http.post("/models/m/uploads", json=START).json()["upload_id"]
        for n in (0, 1):
            assert http.put(
                f"/uploads/{uid}/chunks/{n}", content=bodies[n], headers=ARROW
            ).is_success
        # the store file is the server's: an embedded connect says where to send the data
        with pytest.raises(es.StoreLocked) as locked:
            es.connect(store)
        assert "evalstore serve" in str(locked.value)
        assert f'es.connect("{server.url}")' in str(locked.value)  # the server's own URL
    assert server.stop() in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.output()
    assert _stored(store) == ([], 0)

    # 2. restarted: the upload goes on where it was; SIGTERM lands during the commit
    server = Server(store).start()
    result: dict[str, Any] = {}
    with httpx.Client(base_url=server.api(""), timeout=120) as http:
        assert http.get(f"/uploads/{uid}").json()["chunks"] == [0, 1]
        for n in (2, 3):
            assert http.put(
                f"/uploads/{uid}/chunks/{n}", content=bodies[n], headers=ARROW
            ).is_success

        def commit() -> None:
            try:
                result["response"] = http.post(f"/uploads/{uid}/commit", json={"chunks": PARTS})
            except httpx.HTTPError as exc:
                result["error"] = exc

        committing = threading.Thread(target=commit)
        committing.start()
        time.sleep(0.15)
        # the event loop answers while the batch is written in a worker thread
        started = time.perf_counter()
        assert httpx.get(server.api("/health"), timeout=5).status_code == 200
        assert time.perf_counter() - started < 1.0
        assert committing.is_alive(), "the commit ended before SIGTERM could land during it"
        server.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        committing.join(120)
    assert server.stop() in (0, -signal.SIGTERM)
    # the server finished the request in flight before it stopped: the batch is in, whole, and
    # its report reached the client (a SIGKILL instead would leave no trace of it: test_crash.py)
    assert "error" not in result, result
    assert result["response"].status_code == 200, result["response"].text
    report = result["response"].json()
    assert report["rows"] == ROWS
    assert _stored(store) == ([("inferences", ROWS)], ROWS)

    # 3. restarted again: committing again writes nothing more, and answers the same report
    with Server(store) as server, httpx.Client(base_url=server.api(""), timeout=120) as http:
        again = http.post(f"/uploads/{uid}/commit", json={"chunks": PARTS})
        assert again.status_code == 200, again.text
        assert again.json() == report
        assert server.stop() in (0, -signal.SIGTERM)
    assert _stored(store) == ([("inferences", ROWS)], ROWS)


def test_api_key_guards_a_server_beyond_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "test-key-0123456789"
    # every address of this machine; the test talks to it on loopback only
    with Server(tmp_path / "store", api_key=key, host="0.0.0.0") as server:
        assert "API key required" in server.output()
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {key}"}):
            for path in ("/api/v1/health", "/api/v1/models", "/no/such/route"):
                r = httpx.get(server.url + path, headers=headers)
                assert r.status_code == 401, (path, headers)
                assert r.headers["www-authenticate"] == "Bearer"
                assert set(r.json()["error"]) == {"type", "message", "details"}
                assert r.json()["error"]["type"] == "Unauthorized"
        good = {"Authorization": f"Bearer {key}"}
        assert httpx.get(server.api("/health"), headers=good).status_code == 200
        assert httpx.get(server.url + "/no/such/route", headers=good).status_code == 404
        assert httpx.get(server.url + "/docs").status_code == 200  # describes, holds no data
        assert httpx.get(server.url + "/openapi.json").status_code == 200

        with pytest.raises(es.ServerError) as refused:
            es.connect(server.url)
        assert refused.value.status == 401 and refused.value.error_type == "Unauthorized"
        assert "api_key" in str(refused.value)
        with es.connect(server.url, api_key=key) as remote:
            remote.model("m", task="regression")
        monkeypatch.setenv("EVALSTORE_API_KEY", key)
        with es.connect(server.url) as remote:
            assert [m.name for m in remote.models()] == ["m"]


def test_bind_checks() -> None:
    for host in ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "10.1.2.3", "192.168.0.1", "example.org", ""):
        assert not is_loopback(host), host
        with pytest.raises(es.ParameterError, match="EVALSTORE_API_KEY"):
            check_bind(host, None)
        check_bind(host, "key")
    assert parse_size("256MB") == 256_000_000
    assert parse_size("1GiB") == 1 << 30
    assert parse_size("512 kb") == 512_000
    assert parse_size("1000") == 1000
    for bad in ("", "0MB", "lots", "-1MB", "1 parsec"):
        with pytest.raises(es.ParameterError, match="max_body_size"):
            parse_size(bad)


def _serve_loose(store: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``evalstore serve`` bound beyond loopback, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "evalstore", "serve", "--store", str(store), *LOOSE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_serve_refuses_to_start_unsafe_or_broken(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "EVALSTORE_API_KEY"}
    r = _serve_loose(tmp_path / "store", env)
    assert r.returncode == 1
    assert r.stderr.startswith(
        "error: api_key must be set when the server listens on an address other than loopback"
    )
    assert not (tmp_path / "store").exists(), "refused before the store was opened"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(es.ParameterError, match="Choose another --port"):
            serve(tmp_path / "store", port=taken.getsockname()[1])
    with pytest.raises(es.ParameterError, match="max_body_size must be a size"):
        serve(tmp_path / "store", max_body_size="lots")
    assert not (tmp_path / "store").exists()


def _started(message: str) -> None:
    raise AssertionError(f"the server started: {message}")


def test_serve_refuses_a_key_no_client_can_send_or_guessable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key with whitespace cannot travel in a header; a short one can be guessed: refused
    before the store is opened, without showing the key."""
    for key, why in [
        (" ", "without whitespace"),
        ("\t", "without whitespace"),
        ("secret-key-0123456789\n", "ends in a newline: remove the whitespace"),
        ("a b c d e f g h i j", "without whitespace"),
        ("k\x07" * 10, "control characters"),
        ("k", "16 characters at least"),
        ("0123456789abcde", "16 characters at least"),
    ]:
        with pytest.raises(es.ParameterError, match=why) as refused:
            serve(tmp_path / "store", host="0.0.0.0", port=0, api_key=key, say=_started)
        assert refused.value.name == "api_key (--api-key or EVALSTORE_API_KEY)"
        if len(key.strip()) > 1:
            assert key.strip() not in str(refused.value), "the key is never shown"
    assert "secrets.token_urlsafe(32)" in str(refused.value)
    assert not (tmp_path / "store").exists(), "refused before the store was opened"
    r = _serve_loose(tmp_path / "store", {**os.environ, "EVALSTORE_API_KEY": " "})
    assert r.returncode == 1
    assert r.stderr.startswith("error: api_key (--api-key or EVALSTORE_API_KEY) must be a key")
    assert not (tmp_path / "store").exists()


def test_a_store_held_by_a_server_names_its_url(tmp_path: Path) -> None:
    """While a server owns a store, opening it elsewhere names the server's URL (the store
    folder holds a file saying where it is served, with the server's PID), not a guessed
    port; a file whose PID is not the lock's holder is ignored."""
    import evalstore as es
    from evalstore.store.duckdb import SERVER_FILE, served_at

    store = tmp_path / "store"
    with es.connect(store) as s:
        s.model("m", task="regression")
    server = Server(store).start()
    try:
        assert (store / SERVER_FILE).exists() and server.proc is not None
        with pytest.raises(es.StoreLocked) as info:
            es.connect(store)
        message = str(info.value)
        assert f"is served at {server.url}" in message
        assert f'es.connect("{server.url}")' in message and ":8080" not in message
        assert f"by `evalstore serve` (PID {server.proc.pid}), which owns it" in message
        assert "api_key" not in message and "Authorization" not in message
    finally:
        assert server.stop() in (0, -signal.SIGTERM)
    # a server that needs a key: the advice passes one, and the file never holds it
    key = "served-key-0123456789abcdef"
    server = Server(store, api_key=key).start()
    try:
        assert server.proc is not None
        assert json.loads((store / SERVER_FILE).read_text())["api_key_required"] is True
        assert key not in (store / SERVER_FILE).read_text()
        with pytest.raises(es.StoreLocked) as info:
            es.connect(store)
        message = str(info.value)
        assert f"by `evalstore serve` (PID {server.proc.pid}), which owns it" in message
        assert sys.executable not in message and key not in message
        assert f'es.connect("{server.url}", api_key=os.environ["EVALSTORE_API_KEY"])' in message
        assert "'Authorization: Bearer <key>'" in message
    finally:
        assert server.stop() in (0, -signal.SIGTERM)
    with es.connect(store) as s:  # free again
        assert [m.name for m in s.models()] == ["m"]
    # a file left by a server that died names no URL for another process's lock
    (store / SERVER_FILE).write_text('{"url": "http://127.0.0.1:1", "pid": 1}')
    assert served_at(store, "1") == "http://127.0.0.1:1"
    assert served_at(store, str(os.getpid())) is None


def test_a_started_server_leaves_its_startup_objects_out_of_full_collections(
    tmp_path: Path,
) -> None:
    """Every full garbage collection walked the objects a server holds from its start
    (~150k: modules, routes, templates), 110 ms on average with a page waiting. The app
    freezes them when it starts, after collecting what is already garbage."""
    import asyncio
    import gc
    import weakref

    from evalstore.server import create_app

    class Node:
        other: Any = None

    app = create_app(es.connect(tmp_path / "store"))
    seen: list[Any] = []

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):
            seen.extend([gc.get_freeze_count(), gone()])

    gc.unfreeze()
    gc.disable()  # so that no collection before the server's own frees the cycle
    try:
        garbage = Node()
        garbage.other = Node()
        garbage.other.other = garbage  # a cycle: only the collector frees it
        gone = weakref.ref(garbage)
        del garbage
        asyncio.run(start_and_stop())
    finally:
        gc.enable()
    assert seen[0] > 10_000
    assert seen[1] is None  # collected before the freeze, not kept for ever


def test_the_printed_url_accepts_connections_before_the_server_starts() -> None:
    """The socket serve() prints the URL of is listening already: a client connecting at
    once (before uvicorn starts: it opens the store, then runs its startup) is queued, not
    refused (a browser test reading the URL was refused under load)."""
    from evalstore.server.app import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        client = socket.create_connection(sock.getsockname()[:2], timeout=5)
        client.close()
    finally:
        sock.close()
