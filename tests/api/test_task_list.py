"""Listing tasks: newest first, keyset pagination, filters, bad query values."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import SettingsFactory, register, upload_bytes
from tests.support.documents import text_pdf
from tests.support.server import LiveServer, live_server


async def test_pages_through_every_task_once(
    make_settings: SettingsFactory, database_url: str
) -> None:
    settings = make_settings(database_url=database_url, default_engine="slow", job_concurrency=1)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        created = []
        for number in range(7):
            name = f"{'invoice' if number % 2 else 'letter'}-{number}.pdf"
            task = (await upload_bytes(client, text_pdf([[f"doc {number}"]]), name)).json()
            created.append(task["data"]["id"])

        seen: list[str] = []
        response = await client.get("/api/tasks", params={"limit": 3})
        while True:
            assert response.status_code == 200
            seen += [task["id"] for task in response.json()["data"]]
            cursor = response.headers.get("x-next-cursor")
            if cursor is None:
                assert "link" not in response.headers
                break
            link = response.headers["link"]
            assert link.endswith('rel="next"')
            next_url = link[1 : link.index(">")]
            assert parse_qs(urlsplit(next_url).query)["cursor"] == [cursor]
            response = await client.get("/api/tasks", params={"limit": 3, "cursor": cursor})
        assert seen == list(reversed(created))

        invoices = (await client.get("/api/tasks", params={"q": "INVOICE"})).json()["data"]
        assert sorted(task["filename"] for task in invoices) == [
            "invoice-1.pdf",
            "invoice-3.pdf",
            "invoice-5.pdf",
        ]
        pending = (await client.get("/api/tasks", params={"status": "pending"})).json()["data"]
        assert len(pending) == 7
        done = (await client.get("/api/tasks", params={"status": "completed"})).json()["data"]
        assert done == []
        wildcard = (await client.get("/api/tasks", params={"q": "%"})).json()["data"]
        assert wildcard == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "many"},
        {"status": "done"},
        {"cursor": "not-a-cursor!"},
        {"cursor": "bm9waXBl"},
    ],
)
async def test_bad_list_queries_are_422(server: LiveServer, params: dict[str, object]) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await client.get("/api/tasks", params=params)
        assert response.status_code == 422, response.text
        assert response.json()["success"] is False


async def test_listing_needs_credentials(server: LiveServer) -> None:
    async with server.client() as client:
        assert (await client.get("/api/tasks")).status_code == 401
