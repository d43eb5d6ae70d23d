"""User B gets 404 on every one of user A's task routes.

The routes are read from the app itself, so a task route added later without the
ownership dependency fails here.
"""

from __future__ import annotations

import re

import pytest

from docmill.api.app import create_app
from tests.conftest import register, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.server import LiveServer

PATH_VALUES = {"task_id": None, "page": "1", "path": "images/figure.png", "n": "1"}


def task_routes() -> list[tuple[str, str]]:
    """(method, path template) of every HTTP route that takes a task id, from the
    app's own OpenAPI description."""
    routes = []
    for path, operations in create_app().openapi()["paths"].items():
        if "{task_id}" in path:
            routes.extend(
                (method.upper(), path) for method in sorted(operations) if method != "head"
            )
    return routes


TASK_ROUTES = task_routes()


def test_the_route_list_is_not_empty() -> None:
    paths = {path for _, path in TASK_ROUTES}
    assert "/api/tasks/{task_id}/status" in paths
    assert "/api/download/{task_id}" in paths
    assert len(TASK_ROUTES) >= 13


@pytest.fixture
async def tasks_of_a(server: LiveServer):  # type: ignore[no-untyped-def]
    async with server.client() as a:
        a.headers["Authorization"] = f"Bearer {await register(a, 'alice_' + 'owner')}"
        task = (await upload_bytes(a, text_pdf([["Alice's secret"]]), engine="slow")).json()
        task_id = task["data"]["id"]
        await wait_for_status(a, task_id, ("completed",))
        yield task_id


@pytest.mark.parametrize(
    ("method", "template"), TASK_ROUTES, ids=[f"{m} {p}" for m, p in TASK_ROUTES]
)
async def test_user_b_gets_404_on_user_a_task(
    server: LiveServer, tasks_of_a: str, method: str, template: str
) -> None:
    path = re.sub(r"\{(\w+)(:path)?\}", lambda m: PATH_VALUES[m.group(1)] or tasks_of_a, template)
    async with server.client() as b, server.client() as anonymous:
        b.headers["Authorization"] = f"Bearer {await register(b)}"
        body = {"target_lang": "fr"} if method == "POST" else None
        response = await b.request(method, path, json=body)
        assert response.status_code == 404, f"{method} {path}: {response.text}"
        assert response.json()["error"] in ("task_not_found", "not_found")
        unauthenticated = await anonymous.request(method, path, json=body)
        assert unauthenticated.status_code in (401, 404), unauthenticated.text

    async with server.client() as a:
        # A's task is untouched by B's attempts.
        login = await a.post(
            "/api/auth/login",
            json={"email_or_username": "alice_owner", "password": "correct horse battery"},
        )
        a.headers["Authorization"] = f"Bearer {login.json()['token']}"
        status = await a.get(f"/api/tasks/{tasks_of_a}/status")
        assert status.json()["data"]["status"] == "completed"


async def test_public_task_can_be_read_not_changed(server: LiveServer) -> None:
    async with server.client() as a, server.client() as b:
        a.headers["Authorization"] = f"Bearer {await register(a)}"
        b.headers["Authorization"] = f"Bearer {await register(b)}"
        task = (
            await upload_bytes(
                a, text_pdf([["Shared with everyone"]]), engine="slow", is_public="true"
            )
        ).json()["data"]
        await wait_for_status(a, task["id"], ("completed",))

        markdown = await b.get(f"/api/tasks/{task['id']}/markdown")
        assert "Shared with everyone" in markdown.json()["data"]["markdown_content"]
        assert (await b.get(f"/api/download/{task['id']}")).status_code == 200

        for method, action in (("DELETE", ""), ("POST", "/cancel"), ("POST", "/retry")):
            response = await b.request(method, f"/api/tasks/{task['id']}{action}")
            assert response.status_code == 403, response.text
        assert (await a.get(f"/api/tasks/{task['id']}/status")).status_code == 200
        listed = (await b.get("/api/tasks")).json()["data"]
        assert listed == [], "public tasks of others are not in my list"
