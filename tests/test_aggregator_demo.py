"""README's first command: `notrain serve --demo` as a real process shows the example artist on its page."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from notrain.aggregator.demo import ARTIST


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.read().decode()


def test_serve_demo_prints_its_url_and_shows_the_example_artist(tmp_path: Path):
    port = free_port()
    notrain = Path(sys.executable).with_name("notrain")
    # Run outside the checkout: the demo must stand on the package's embedded defaults alone.
    process = subprocess.Popen(
        [str(notrain), "serve", "--demo", "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        announced = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in announced, (announced, process.stderr.read() if process.poll() is not None else "")
        deadline = time.monotonic() + 30
        while '"did:key:' not in (publishers := get(f"http://127.0.0.1:{port}/v1/publishers")) and time.monotonic() < deadline:
            time.sleep(0.2)
        did = publishers.split('"')[3]
        assert did.startswith("did:key:z6Mk")
        assert did in get(f"http://127.0.0.1:{port}/search?prefix=did:key:")
        page = get(f"http://127.0.0.1:{port}/publisher?id={did}")
        assert ARTIST in page and "train-ai" in page
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert process.returncode == 0, process.stderr.read()
