"""Accounts: register, log in, tokens, password change, API keys, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from docmill.security import issue_token
from tests.conftest import SettingsFactory, register, upload_bytes
from tests.support.documents import text_pdf
from tests.support.server import LiveServer, live_server

PASSWORD = "correct horse battery"


async def test_register_login_me_validate(server: LiveServer) -> None:
    async with server.client() as client:
        token = await register(client, "carol")
        login = await client.post(
            "/api/auth/login", json={"email_or_username": "CAROL@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200
        data = login.json()
        assert set(data["user"]) >= {"id", "username", "email", "is_verified", "is_active"}
        assert data["token_type"] == "bearer" and data["expires_in"] > 0
        client.headers["Authorization"] = f"Bearer {data['token']}"

        await upload_bytes(client, text_pdf([["one"]]), engine="slow", is_public="true")
        me = (await client.get("/api/auth/me")).json()
        assert me["username"] == "carol"
        assert me["total_tasks"] == 1 and me["public_tasks"] == 1

        valid = (await client.get("/api/auth/validate")).json()
        assert valid["valid"] is True and valid["user"]["username"] == "carol"
        client.headers.pop("Authorization")
        anonymous = (await client.get("/api/auth/validate")).json()
        assert anonymous == {"valid": False}
        assert token


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "email": "a@example.com", "password": PASSWORD},
        {"username": "x" * 51, "email": "a@example.com", "password": PASSWORD},
        {"username": "okname", "email": "not-an-email", "password": PASSWORD},
        {"username": "okname", "email": "a@example.com", "password": "short"},
        {"username": "okname", "email": "a@example.com", "password": "p" * 129},
        {"username": "bad name!", "email": "a@example.com", "password": PASSWORD},
        {"username": "okname"},
    ],
)
async def test_bad_registration_is_422(server: LiveServer, body: dict[str, str]) -> None:
    async with server.client() as client:
        response = await client.post("/api/auth/register", json=body)
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_input"


async def test_duplicate_registration_is_409(server: LiveServer) -> None:
    async with server.client() as client:
        await register(client, "dave")
        again = await client.post(
            "/api/auth/register",
            json={"username": "DAVE", "email": "other@example.com", "password": PASSWORD},
        )
        assert again.status_code == 409
        assert again.json()["error"] == "user_exists"


async def test_wrong_password_and_bad_tokens_are_401(server: LiveServer) -> None:
    async with server.client() as client:
        await register(client, "erin")
        wrong = await client.post(
            "/api/auth/login", json={"email_or_username": "erin", "password": "nope-nope"}
        )
        assert wrong.status_code == 401
        unknown = await client.post(
            "/api/auth/login", json={"email_or_username": "nobody", "password": "x"}
        )
        assert unknown.status_code == 401
        assert wrong.json()["message"] == unknown.json()["message"]

        for header in ("Bearer garbage", "Bearer " + "a.b.c"):
            response = await client.get("/api/auth/me", headers={"Authorization": header})
            assert response.status_code == 401
            assert response.json()["error"] == "invalid_token"
        assert (await client.get("/api/auth/me")).status_code == 401


async def test_expired_token_cannot_be_renewed(server: LiveServer) -> None:
    async with server.client() as client:
        token = await register(client, "frank")
        me = (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).json()
        expired, _ = issue_token(me["id"], server.settings.signing_key, timedelta(seconds=-5))
        client.headers["Authorization"] = f"Bearer {expired}"
        response = await client.get("/api/auth/me")
        assert response.status_code == 401 and response.json()["error"] == "token_expired"
        renew = await client.post("/api/auth/token/renew")
        assert renew.status_code == 401

        client.headers["Authorization"] = f"Bearer {token}"
        renewed = await client.post("/api/auth/token/renew")
        assert renewed.status_code == 200
        new_token = renewed.json()["token"]
        ok = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {new_token}"})
        assert ok.status_code == 200


async def test_password_change(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client, 'gina')}"
        wrong = await client.post(
            "/api/auth/password",
            json={"old_password": "wrong-password", "new_password": "another password"},
        )
        assert wrong.status_code == 403
        assert wrong.json()["detail"] == "The current password is wrong."
        short = await client.post(
            "/api/auth/password", json={"old_password": PASSWORD, "new_password": "short"}
        )
        assert short.status_code == 422
        changed = await client.post(
            "/api/auth/password",
            json={"current_password": PASSWORD, "new_password": "another password"},
        )
        assert changed.status_code == 204  # `current_password` is accepted as an alias
        old = await client.post(
            "/api/auth/login", json={"email_or_username": "gina", "password": PASSWORD}
        )
        assert old.status_code == 401
        new = await client.post(
            "/api/auth/login", json={"email_or_username": "gina", "password": "another password"}
        )
        assert new.status_code == 200


async def test_api_keys(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client, 'hank')}"
        created = await client.post("/api/auth/api-keys", json={"name": "scripts"})
        assert created.status_code == 201
        key = created.json()["data"]["key"]
        key_id = created.json()["data"]["id"]
        listed = (await client.get("/api/auth/api-keys")).json()["data"]
        assert [k["name"] for k in listed] == ["scripts"] and "key" not in listed[0]

        async with server.client() as script:
            script.headers["X-API-Key"] = key
            me = await script.get("/api/auth/me")
            assert me.json()["username"] == "hank"
            assert (await client.delete(f"/api/auth/api-keys/{key_id}")).status_code == 200
            revoked = await script.get("/api/auth/me")
            assert revoked.status_code == 401
        assert (await client.delete(f"/api/auth/api-keys/{key_id}")).status_code == 404
        bad = await client.post("/api/auth/api-keys", json={"name": ""})
        assert bad.status_code == 422


async def test_closed_registration(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(registration="closed")) as live, live.client() as c:
        response = await c.post(
            "/api/auth/register",
            json={"username": "ivan", "email": "ivan@example.com", "password": PASSWORD},
        )
        assert response.status_code == 403
        assert response.json()["error"] == "registration_closed"


async def test_unknown_route_and_method_use_the_envelope(server: LiveServer) -> None:
    async with server.client() as client:
        missing = await client.get("/api/nothing-here")
        assert missing.status_code == 404 and missing.json()["success"] is False
        wrong_method = await client.put("/api/upload")
        assert wrong_method.status_code == 405 and wrong_method.json()["error"]
