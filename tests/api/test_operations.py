"""Health, readiness, the command line, and disabled accounts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from docmill.store.db import transaction
from docmill.store.models import User
from tests.conftest import SettingsFactory, register
from tests.support.server import LiveServer, live_server, settings_env


async def test_health_and_ready(server: LiveServer) -> None:
    async with server.client() as client:
        health = (await client.get("/health")).json()
        assert health["status"] == "healthy"
        assert health["services"] == {"database": "ok", "job_runner": "ok"}
        ready = (await client.get("/ready")).json()
        assert ready["data"]["ready"] is True
        assert ready["data"]["checks"]["database"] == "ok"
        api_health = (await client.get("/api/health")).json()
        assert api_health["success"] is True and api_health["data"]["status"] == "healthy"
        assert (await client.get("/openapi.json")).status_code == 200


async def test_disabled_users_tokens_stop_working_at_once(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client, 'judy')}"
        me = (await client.get("/api/auth/me")).json()
        async with transaction(server.services.sessions) as session:
            await session.execute(update(User).where(User.id == me["id"]).values(is_active=False))
        response = await client.get("/api/auth/me")
        assert response.status_code == 401
        assert response.json()["error"] == "account_inactive"


def run_cli(
    settings_dir: Path, env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "docmill.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | env | {"PYTHONPATH": str(root / "src")},
        cwd=settings_dir,
    )


async def test_cli_user_create_then_login(make_settings: SettingsFactory, tmp_path: Path) -> None:
    settings = make_settings(registration="closed")
    env = settings_env(settings)
    upgraded = run_cli(tmp_path, env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    created = run_cli(
        tmp_path,
        env,
        "user",
        "create",
        "kate",
        "--email",
        "kate@example.com",
        "--password",
        "kate password 1",
    )
    assert created.returncode == 0, created.stderr
    assert "Created user kate" in created.stdout
    duplicate = run_cli(
        tmp_path,
        env,
        "user",
        "create",
        "kate",
        "--email",
        "kate@example.com",
        "--password",
        "kate password 1",
    )
    assert duplicate.returncode == 1 and "already registered" in duplicate.stderr
    invalid = run_cli(
        tmp_path,
        env,
        "user",
        "create",
        "x",
        "--email",
        "x@example.com",
        "--password",
        "kate password 1",
    )
    assert invalid.returncode == 2

    async with live_server(settings) as live, live.client() as client:
        login = await client.post(
            "/api/auth/login", json={"email_or_username": "kate", "password": "kate password 1"}
        )
        assert login.status_code == 200


async def test_secret_key_is_generated_once_and_kept(make_settings: SettingsFactory) -> None:
    settings = make_settings(secret_key=None)
    async with live_server(settings) as live, live.client() as client:
        token = await register(client)
        key_file = settings.data_dir / "secret_key"
        assert key_file.exists() and oct(key_file.stat().st_mode)[-3:] == "600"
    async with live_server(make_settings(secret_key=None)) as live, live.client() as client:
        response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, "tokens survive a restart"


async def test_metrics_count_requests_by_route_and_tasks_by_status(server: LiveServer) -> None:
    from tests.conftest import upload_bytes, wait_for_status
    from tests.support.documents import text_pdf

    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task = (await upload_bytes(client, text_pdf([["m"]]), engine="slow")).json()["data"]
        await wait_for_status(client, task["id"], ("completed",))
        text = (await client.get("/metrics")).text
    assert 'docmill_tasks{status="completed"} 1.0' in text
    assert 'route="/api/tasks/{task_id}/status"' in text
    assert task["id"] not in text, "task ids never become label values"
    assert 'docmill_pages_converted_total{engine="slow"} 1.0' in text
    assert 'docmill_conversion_seconds_count{engine="slow",outcome="completed"} 1.0' in text
