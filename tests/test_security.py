"""Security defaults: the server listens on this machine only, with XSRF protection and an
upload cap; nothing unpickles data, and checkpoints load as plain tensors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*ROOT.glob("asdcore/**/*.py"), ROOT / "app.py", ROOT / "home.py", ROOT / "ui.py",
           *ROOT.glob("pages/*.py")]


def test_streamlit_config_keeps_the_server_local_and_guarded():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["enableXsrfProtection"] is True
    assert 0 < config["server"]["maxUploadSize"] <= 200
    assert config["browser"]["gatherUsageStats"] is False


def _listening_addresses(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses with a socket listening on ``port`` (from /proc/net)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_app_started_plainly_listens_on_loopback_only(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ASD_WORKSPACE_DIR": str(tmp_path / "workspace"),
           "ASD_CACHE_DIR": str(tmp_path / "cache"), "ASD_DEMO_PRESET": "tiny",
           "ASD_UMAP_WARMUP": "0"}
    server = subprocess.Popen(  # no --server.address: the project's config decides
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, "the Streamlit server exited"
                assert time.monotonic() < deadline, "the Streamlit server did not start"
                time.sleep(0.5)
        addresses = _listening_addresses(port)
        # 0100007F: 127.0.0.1 in /proc's byte order; never 00000000 (0.0.0.0) or an IPv6 any.
        assert addresses == {"0100007F"}, addresses
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def test_no_source_unpickles_or_loads_checkpoints_unsafely():
    for path in SOURCES:
        text = path.read_text()
        assert not re.search(r"\bpickle\.loads?\(|\bUnpickler\b|read_pickle|joblib|"
                             r"allow_pickle=True|weights_only=False", text), path
        for call in re.findall(r"torch\.load\([^)]*\)", text, flags=re.DOTALL):
            assert "weights_only=True" in call, (path, call)
        for call in re.findall(r"np\.load\([^)]*\)", text, flags=re.DOTALL):
            assert "allow_pickle=False" in call, (path, call)
