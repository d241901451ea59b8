"""Test-wide guards: no network beyond loopback, and every test gets its own SHOTLINE_HOME."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
# the contract of the output folder (DESIGN.md): what every finished run must leave there
DELIVERABLES = (
    "final.mp4",
    "final.srt",
    "timeline.otio",
    "timeline.fcpxml",
    "timeline.edl",
    "contact_sheet.png",
    "storyboard.json",
    "bible.json",
    "script.fountain",
    "report.json",
    "continuity.html",
    "poster.png",
)

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address):  # type: ignore[no-untyped-def]
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if (ip is None and host != "localhost") or (ip is not None and not ip.is_loopback):
            raise OSError(f"test tried to reach the network ({host}); only loopback is allowed")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "shotline-home"
    monkeypatch.setenv("SHOTLINE_HOME", str(home))
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    return home
