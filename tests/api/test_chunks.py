"""`GET /api/tasks/{id}/chunks` on a converted PDF with known sections, and chunks.jsonl."""

from __future__ import annotations

import io
import json
import zipfile

from reportlab.lib.pagesizes import A5
from reportlab.pdfgen import canvas

from tests.conftest import register, upload_bytes, wait_for_status
from tests.support.server import LiveServer

SECTIONS = {
    "Introduction": ["Chunks keep the structure of the page.", "Each one stays small."],
    "Methods": [f"Method step number {n} is described on its own line." for n in range(14)],
    "Results": ["The results fit in one short section."],
}


def sectioned_pdf() -> bytes:
    """Sections over two pages: an 18 pt heading, then 11 pt lines, each a paragraph."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A5)
    y = A5[1] - 60
    for heading, lines in SECTIONS.items():
        if y < 160:
            pdf.showPage()
            y = A5[1] - 60
        pdf.setFont("Helvetica-Bold", 18)
        pdf.drawString(40, y, heading)
        y -= 34
        pdf.setFont("Helvetica", 11)
        for line in lines:
            if y < 60:
                pdf.showPage()
                y = A5[1] - 60
                pdf.setFont("Helvetica", 11)
            pdf.drawString(40, y, line)
            y -= 40  # a paragraph each
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


async def test_chunks_follow_sections_and_blocks(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task_id = (await upload_bytes(client, sectioned_pdf())).json()["data"]["id"]
        await wait_for_status(client, task_id, ("completed",))
        blocks = (await client.get(f"/api/tasks/{task_id}/blocks")).json()["data"]
        texts = [b["content"] for b in blocks["preproc_blocks"] if b["type"] != "title"]
        assert sorted(texts) == sorted(line for lines in SECTIONS.values() for line in lines)

        response = await client.get(f"/api/tasks/{task_id}/chunks", params={"max_tokens": 64})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["tokenizer"] == "cl100k_base" and data["max_tokens"] == 64
        chunks = data["chunks"]
        assert all(chunk["tokens"] <= 64 for chunk in chunks)
        for text in texts:  # every block in exactly one chunk
            assert sum(text in chunk["text"] for chunk in chunks) == 1, text
        intro = [c for c in chunks if "Chunks keep" in c["text"]]
        results = [c for c in chunks if "The results fit" in c["text"]]
        assert len(intro) == 1 and len(results) == 1
        methods = [c for c in chunks if "Method step" in c["text"]]
        assert len(methods) > 1, "the long section is cut"
        assert all(c["heading_path"] == ["Methods"] for c in methods)
        assert "Method step" not in intro[0]["text"] + results[0]["text"]
        assert {page for c in methods for page in c["pages"]} == {1, 2}
        by_box = {(b["page_num"], tuple(b["bbox"])) for b in blocks["preproc_blocks"]}
        for chunk in chunks:
            for ref in chunk["blocks"]:
                assert (ref["page"], tuple(ref["bbox"])) in by_box

        default = (await client.get(f"/api/tasks/{task_id}/chunks")).json()["data"]
        assert default["max_tokens"] == 512 and default["overlap"] == 0
        download = await client.get(f"/api/download/{task_id}")
        archive = zipfile.ZipFile(io.BytesIO(download.content))
        lines = archive.read("chunks.jsonl").decode().splitlines()
        assert [json.loads(line) for line in lines] == default["chunks"]


async def test_bad_chunk_parameters_are_422(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task_id = (await upload_bytes(client, sectioned_pdf())).json()["data"]["id"]
        await wait_for_status(client, task_id, ("completed",))
        for params in (
            {"max_tokens": "5"},
            {"max_tokens": "100000"},
            {"max_tokens": "many"},
            {"overlap": "-1"},
            {"max_tokens": "64", "overlap": "40"},
        ):
            response = await client.get(f"/api/tasks/{task_id}/chunks", params=params)
            assert response.status_code == 422, (params, response.text)
            body = response.json()
            assert body["success"] is False and body["error"] == "invalid_input"
        pending = (await upload_bytes(client, sectioned_pdf() + b"\n", engine="slow")).json()
        early = await client.get(f"/api/tasks/{pending['data']['id']}/chunks")
        assert early.status_code == 409 and early.json()["error"] == "task_not_ready"
