"""A real `notrain serve --config FILE` process for tests: its TOML written here, a free loopback port
picked here (the server does not announce a port 0), stderr kept in a file, and stopped by a signal."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
from services import free_port


def toml(document: dict) -> str:
    """The few TOML shapes the aggregator's config has: top-level strings, tables of scalars/lists, arrays of tables."""

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)  # a JSON string of printable text is a TOML basic string
        return "[" + ", ".join(value(item) for item in v) + "]"

    def tables(v) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(item, dict) for item in v)

    lines = [f"{k} = {value(v)}" for k, v in document.items() if not isinstance(v, dict) and not tables(v)]
    for name, table in document.items():
        if isinstance(table, dict):
            lines += ["", f"[{name}]"] + [f"{k} = {value(v)}" for k, v in table.items()]
        elif tables(table):  # an array of tables: [[name]] once per item
            for item in table:
                lines += ["", f"[[{name}]]"] + [f"{k} = {value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


class ServeProcess:
    def __init__(self, directory: Path, *, storage_url: str = "", key_file: Path | None = None, **sections: dict) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = directory / "stderr.log"
        self.config_path = directory / "notrain.toml"
        document = {
            "data_dir": str(directory / "data"),
            "server": {"host": "127.0.0.1", "port": self.port},
            "storage": {"url": storage_url},
            "log": {"origin": "aggregator.test/log", "checkpoint_interval": 0.2},
            "crawl": {"allow_loopback": True},
            "submissions": {"per_minute": 100_000},
        }
        if key_file is not None:
            document["log"]["key_file"] = str(key_file)
        for name, values in sections.items():
            document.setdefault(name, {}).update(values)
        self.config_path.write_text(toml(document))
        self.process: subprocess.Popen | None = None

    async def start(self, timeout: float = 60.0) -> ServeProcess:
        """Start and wait until /healthz answers."""
        with open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "notrain.cli", "serve", "--config", str(self.config_path)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"notrain serve exited with {self.process.returncode}:\n{self.stderr()}")
                try:
                    async with session.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    self.kill()
                    raise AssertionError(f"notrain serve did not answer in {timeout} s:\n{self.stderr()}")
                await asyncio.sleep(0.1)

    async def health(self, session: aiohttp.ClientSession) -> dict:
        async with session.get(self.url + "/healthz") as response:
            return await response.json()

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> int:
        """SIGTERM (a graceful shutdown); the exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
