"""Fixtures shared by the wrapper contract tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.server import FakeServer, Handler


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[FakeServer, list[Handler]]]:
    """One loopback server per test module; each test plugs its own fake provider into the slot."""
    slot: list[Handler] = []
    with FakeServer(lambda rec: slot[0](rec)) as srv:
        yield srv, slot
