"""Fixtures: a real latchkey and Redis. tests/clients/run.sh starts them (and Prism's
validating proxy in front) and passes LATCHKEY_URL and LATCHKEY_ADMIN_KEY; without those the
fixtures start a redis-server and LATCHKEY_BIN (default build/latchkey) themselves."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from latchkey import Latchkey  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float = 15.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


class Stack:
    """A redis-server and a latchkey serving against it, both stopped at the end."""

    def __init__(self, **options: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="latchkey-py-"))
        self.bin = os.environ.get("LATCHKEY_BIN", str(ROOT / "build" / "latchkey"))
        self.redis_port = free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([self.bin, "keys", "init", "--dir", str(self.dir / "secrets")], check=True,
                       stdout=subprocess.DEVNULL)
        self.admin_key = "py-client-admin-key-" + uuid.uuid4().hex
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
        env.update(LATCHKEY_LISTEN=f"127.0.0.1:{self.port}",
                   LATCHKEY_REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
                   LATCHKEY_SECRETS_DIR=str(self.dir / "secrets"), LATCHKEY_ADMIN_API_KEYS=self.admin_key,
                   LATCHKEY_THREADS="1", LATCHKEY_TOKEN_ISSUER=self.url)
        env.update({"LATCHKEY_" + k.upper(): v for k, v in options.items()})
        self.server = subprocess.Popen([self.bin, "serve"], env=env, stdout=subprocess.DEVNULL,
                                       stderr=open(self.dir / "latchkey.err", "wb"))
        try:
            wait_http(self.url + "/readyz")
        except RuntimeError:
            err = (self.dir / "latchkey.err").read_text()
            self.close()
            raise RuntimeError("latchkey did not start: " + err) from None

    def stop_redis(self) -> None:
        self.redis.kill()
        self.redis.wait()

    def close(self) -> None:
        for p in (self.server, self.redis):
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    """(url, admin key, issuer) of the latchkey the suite talks to."""
    if os.environ.get("LATCHKEY_URL"):
        yield (os.environ["LATCHKEY_URL"], os.environ["LATCHKEY_ADMIN_KEY"],
               os.environ.get("LATCHKEY_ISSUER", os.environ["LATCHKEY_URL"]))
        return
    s = Stack()
    try:
        yield (s.url, s.admin_key, s.url)
    finally:
        s.close()


@pytest.fixture()
def lk(server) -> Latchkey:
    url, key, issuer = server
    return Latchkey(url, key, issuer=issuer)


@pytest.fixture()
def lk_direct(server) -> Latchkey:
    """The same latchkey without the validating proxy: for tests that send malformed requests
    on purpose (Prism would rightly report them as outside the document)."""
    url, key, issuer = server
    return Latchkey(os.environ.get("LATCHKEY_DIRECT_URL", url), key, issuer=issuer)


@pytest.fixture()
def user() -> str:
    return "user-" + uuid.uuid4().hex[:12]


@pytest.fixture()
def own_stack():
    """A latchkey with its own Redis, for tests that stop Redis."""
    s = Stack()
    try:
        yield s
    finally:
        s.close()
