"""The IAK client's tests: clients pointed at the loopback fake IAK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.iak.client import CallLimits, IakClient, IakEndpoint
from bot.registry import Registry
from tests.support.bot import IAK_API_KEY, IAK_USERNAME
from tests.support.fakes.iak import FakeIak
from tests.support.iak import FAST, ClientFactory


@pytest.fixture
async def make_client(fake_iak: FakeIak, registry: Registry) -> AsyncIterator[ClientFactory]:
    """IAK clients pointed at the fake (or `base_url`), closed after the test."""
    made: list[IakClient] = []

    def make(
        *,
        api_key: str = IAK_API_KEY,
        base_url: str | None = None,
        limits: CallLimits = FAST,
        **kwargs: Any,
    ) -> IakClient:
        client = IakClient(
            username=IAK_USERNAME,
            api_key=api_key,
            endpoint=IakEndpoint("development", base_url or fake_iak.url),
            postpaid_endpoint=IakEndpoint("development", base_url or fake_iak.url),
            registry=registry,
            limits=limits,
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> IakClient:
    return make_client()
