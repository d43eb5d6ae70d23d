"""`upload-url` fetches public http(s) files only, re-checks redirects, caps size."""

from __future__ import annotations

import pytest

from docmill.pipeline.urlfetch import AddressPolicy
from tests.conftest import SettingsFactory, register, wait_for_status
from tests.support.documents import text_pdf
from tests.support.http import redirect_to, send_bytes, serve_routes, stream_forever
from tests.support.server import LiveServer, live_server

PDF = text_pdf([["Fetched from a URL."]])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/doc.pdf",
        "http://localhost:8000/doc.pdf",
        "http://10.1.2.3/doc.pdf",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/doc.pdf",
        "http://192.168.1.10/doc.pdf",
        "http://0.0.0.0/doc.pdf",
    ],
)
async def test_private_addresses_are_refused(server: LiveServer, url: str) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await client.post("/api/upload-url", data={"pdf_url": url})
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "unsafe_url"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/a.pdf",
        "gopher://x/",
        "http://user:pw@example.com/a.pdf",
    ],
)
async def test_other_schemes_and_credentials_are_refused(server: LiveServer, url: str) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await client.post("/api/upload-url", data={"pdf_url": url})
        assert response.status_code == 400
        assert response.json()["error"] == "unsafe_url"


async def test_missing_or_bad_url_is_422(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        assert (await client.post("/api/upload-url", data={})).status_code == 422
        bad = await client.post("/api/upload-url", data={"pdf_url": "http://"})
        assert bad.status_code == 422


async def test_allow_listed_server_is_fetched(make_settings: SettingsFactory) -> None:
    with serve_routes({"/files/report.pdf": send_bytes(PDF)}) as origin:
        settings = make_settings(upload_url_allow_hosts=["127.0.0.1"], default_engine="slow")
        async with live_server(settings) as live, live.client() as client:
            client.headers["Authorization"] = f"Bearer {await register(client)}"
            response = await client.post(
                "/api/upload-url", data={"pdf_url": f"{origin}/files/report.pdf"}
            )
            assert response.status_code == 202, response.text
            task = response.json()["data"]
            assert task["filename"] == "report.pdf"
            done = await wait_for_status(client, task["id"], ("completed", "failed"))
            assert done["status"] == "completed"
            markdown = (await client.get(f"/api/tasks/{task['id']}/markdown")).json()["data"]
            assert "Fetched from a URL." in markdown["markdown_content"]


async def test_redirect_to_a_private_address_is_refused(make_settings: SettingsFactory) -> None:
    """The public side of the redirect is allow-listed by name; its target is not."""
    with serve_routes({"/pdf": send_bytes(PDF)}) as private_origin:
        port = private_origin.rsplit(":", 1)[1]
        with serve_routes({"/go": redirect_to(f"http://127.0.0.2:{port}/pdf")}) as public:
            settings = make_settings(upload_url_allow_hosts=["127.0.0.1"])
            async with live_server(settings) as live, live.client() as client:
                client.headers["Authorization"] = f"Bearer {await register(client)}"
                direct = await client.post("/api/upload-url", data={"pdf_url": f"{public}/go"})
                assert direct.status_code == 400, direct.text
                assert direct.json()["error"] == "unsafe_url"
                metadata = "http://169.254.169.254/latest/meta-data/"
                with serve_routes({"/meta": redirect_to(metadata)}) as hop:
                    response = await client.post("/api/upload-url", data={"pdf_url": f"{hop}/meta"})
                    assert response.status_code == 400
                    assert response.json()["error"] == "unsafe_url"


async def test_endless_body_is_cut_at_the_limit(make_settings: SettingsFactory) -> None:
    with serve_routes({"/endless.pdf": stream_forever()}) as origin:
        settings = make_settings(upload_url_allow_hosts=["127.0.0.1"], max_upload_mb=2)
        async with live_server(settings) as live, live.client() as client:
            client.headers["Authorization"] = f"Bearer {await register(client)}"
            response = await client.post(
                "/api/upload-url", data={"pdf_url": f"{origin}/endless.pdf"}
            )
            assert response.status_code == 413
            leftovers = [p for p in (settings.data_dir / "tmp").iterdir()]
            assert leftovers == []


def test_address_policy() -> None:
    import ipaddress

    policy = AddressPolicy(["10.5.0.0/16", "files.internal"])
    assert policy.address_allowed(ipaddress.ip_address("10.5.1.1"))
    assert not policy.address_allowed(ipaddress.ip_address("10.6.1.1"))
    assert not policy.address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not policy.address_allowed(ipaddress.ip_address("100.64.0.1"))
    assert policy.address_allowed(ipaddress.ip_address("93.184.216.34"))
    assert policy.host_allowed("FILES.internal.")
