"""A stand-in MonkeyOCR server for tests and local development.

A real HTTP app (Starlette, served by uvicorn on 127.0.0.1) with `/health`, `/parse`,
`/parse/split` and `/static/<name>` as MONKEYOCR.md describes. It makes realistic result
ZIPs (middle.json, content list, Markdown, debug PDFs, JPEG crops) from the file it gets,
and misbehaves on request: `POST /_control` with a `Behaviour` as JSON, or
`FakeMonkeyOCR.behaviour = ...` in the same process. `GET /_stats` tells what it saw.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import secrets
import time
import warnings
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Mode = Literal[
    "ok",
    "status",  # /parse answers `status` (429, 500, 400, ...) `times` times, then works
    "slow",  # /parse waits `delay_s` before answering
    "malformed_zip",
    "zip_bomb",
    "zip_slip",  # an entry named ../escaped.txt
    "absolute_path",  # an entry named /tmp/…
    "link",  # a symlink entry
    "duplicate",  # the same entry name twice
    "many_entries",
    "foreign_host",  # download_url on another host
    "huge_zip",  # /static streams without end
    "no_middle",  # no *_middle.json (content list and Markdown only)
    "markdown_only",
    "drain",  # /parse counts the body without keeping it, then answers 400
]
ACCEPTED_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png")
Json = dict[str, Any]


@dataclass
class Behaviour:
    mode: Mode = "ok"
    status: int = 500
    times: int = 1  # for mode "status": how many /parse calls fail before it works
    delay_s: float = 0.0  # every /parse waits this long (mode "slow" or concurrency tests)
    foreign_url: str = "http://localhost:{port}/static/{name}"
    bomb_mb: int = 16
    entries: int = 3000


@dataclass
class Produced:
    """One result the server made: where its ZIP is and what went into it."""

    zip_path: str
    stem: str
    split: bool
    pages: int
    images: list[str]
    titles: list[str]


@dataclass
class Stats:
    parse_requests: int = 0
    static_requests: int = 0
    health_requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    disconnects: int = 0  # clients that hung up while a parse was pending
    connections: list[str] = field(default_factory=list)  # "host:port" of each request
    uploads: list[dict[str, Any]] = field(default_factory=list)
    produced: list[Produced] = field(default_factory=list)

    @property
    def distinct_connections(self) -> int:
        return len(set(self.connections))


# -- result building --------------------------------------------------------------------


def _jpeg(seed: str, size: tuple[int, int] = (48, 32)) -> bytes:
    from PIL import Image

    digest = hashlib.sha256(seed.encode()).digest()
    image = Image.new("RGB", size, (digest[0], digest[1], digest[2]))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _page_sizes(path: Path, suffix: str) -> list[tuple[float, float]]:
    if suffix == ".pdf":
        import pypdfium2

        document = pypdfium2.PdfDocument(path)
        try:
            return [document[i].get_size() for i in range(len(document))]
        finally:
            document.close()
    from PIL import Image

    with Image.open(path) as image:
        return [(float(image.width), float(image.height))]


def _span(kind: str, bbox: list[int], **fields: Any) -> dict[str, Any]:
    return {"bbox": bbox, "score": 0.97, "type": kind, **fields}


def _text_block(kind: str, bbox: list[int], index: int, spans: list[dict[str, Any]]) -> Json:
    return {"type": kind, "bbox": bbox, "index": index, "lines": [{"bbox": bbox, "spans": spans}]}


def _page(
    index: int, size: tuple[float, float], files: dict[str, bytes]
) -> tuple[Json, list[Json]]:
    """One page of middle.json and its content list items; crops are added to `files`."""
    w, h = int(size[0]), int(size[1])
    n = index + 1
    figure, table = _jpeg(f"figure-{n}"), _jpeg(f"table-{n}")
    figure_name = hashlib.sha256(figure).hexdigest() + ".jpg"
    table_name = hashlib.sha256(table).hexdigest() + ".jpg"
    files[f"images/{figure_name}"], files[f"images/{table_name}"] = figure, table
    title = f"Section {n}: Stand-in results"
    table_html = (
        "<table><tr><th>Name</th><th>Value</th></tr>"
        f'<tr><td>alpha</td><td>{n}</td></tr><tr><td colspan="2">total | {n}</td></tr></table>'
    )

    def box(top: float, bottom: float) -> list[int]:
        return [int(w * 0.1), int(h * top), int(w * 0.9), int(h * bottom)]

    blocks = [
        _text_block("title", box(0.08, 0.12), 0, [_span("text", box(0.08, 0.12), content=title)]),
        {
            "type": "text",
            "bbox": box(0.13, 0.2),
            "index": 1,
            "lines": [
                {
                    "bbox": box(0.13, 0.16),
                    "spans": [
                        _span("text", box(0.13, 0.16), content=f"Page {n} says energy is"),
                        _span("inline_equation", box(0.13, 0.16), content="E = mc^2"),
                        _span("text", box(0.13, 0.16), content="here."),
                    ],
                },
                {
                    "bbox": box(0.16, 0.2),
                    "spans": [_span("text", box(0.16, 0.2), content="中文段落")],
                },
            ],
        },
        {
            "type": "image",
            "bbox": box(0.22, 0.45),
            "index": 2,
            "blocks": [
                {
                    "type": "image_body",
                    "bbox": box(0.22, 0.4),
                    "lines": [
                        {
                            "bbox": box(0.22, 0.4),
                            "spans": [_span("image", box(0.22, 0.4), image_path=figure_name)],
                        }
                    ],
                },
                _text_block(
                    "image_caption",
                    box(0.41, 0.45),
                    3,
                    [_span("text", box(0.41, 0.45), content=f"Figure {n}: A stand-in figure.")],
                ),
            ],
        },
        {
            "type": "table",
            "bbox": box(0.47, 0.7),
            "index": 4,
            "blocks": [
                _text_block(
                    "table_caption",
                    box(0.47, 0.5),
                    4,
                    [_span("text", box(0.47, 0.5), content=f"Table {n}: Stand-in values.")],
                ),
                {
                    "type": "table_body",
                    "bbox": box(0.5, 0.7),
                    "lines": [
                        {
                            "bbox": box(0.5, 0.7),
                            "spans": [
                                _span(
                                    "table", box(0.5, 0.7), html=table_html, image_path=table_name
                                )
                            ],
                        }
                    ],
                },
            ],
        },
        _text_block(
            "interline_equation",
            box(0.72, 0.78),
            5,
            [
                _span(
                    "interline_equation", box(0.72, 0.78), content="\\int_0^1 x^2 dx = \\frac{1}{3}"
                )
            ],
        ),
    ]
    discarded = [
        _text_block(
            "discarded",
            box(0.01, 0.04),
            6,
            [_span("text", box(0.01, 0.04), content="Stand-in header")],
        ),
        _text_block(
            "discarded", box(0.95, 0.98), 7, [_span("text", box(0.95, 0.98), content=f"- {n} -")]
        ),
    ]
    page = {
        "page_idx": index,
        "page_size": [w, h],
        "preproc_blocks": blocks,
        "para_blocks": blocks,
        "images": [blocks[2]],
        "tables": [blocks[3]],
        "interline_equations": [blocks[4]],
        "discarded_blocks": discarded,
    }
    content = [
        {"type": "text", "text": title, "text_level": 1, "page_idx": index},
        {
            "type": "text",
            "text": f"Page {n} says energy is $E = mc^2$ here. 中文段落",
            "page_idx": index,
        },
        {
            "type": "image",
            "img_path": f"images/{figure_name}",
            "img_caption": [f"Figure {n}: A stand-in figure."],
            "img_footnote": [],
            "page_idx": index,
        },
        {
            "type": "table",
            "img_path": f"images/{table_name}",
            "table_body": table_html,
            "table_caption": [f"Table {n}: Stand-in values."],
            "table_footnote": [],
            "page_idx": index,
        },
        {
            "type": "equation",
            "text": "$$\\int_0^1 x^2 dx = \\frac{1}{3}$$",
            "text_format": "latex",
            "page_idx": index,
        },
    ]
    return page, content


def _markdown(content: list[dict[str, Any]]) -> str:
    parts = []
    for item in content:
        if item["type"] == "text":
            prefix = "# " if item.get("text_level") else ""
            parts.append(prefix + item["text"])
        elif item["type"] == "equation":
            parts.append(item["text"])
        elif item["type"] == "image":
            parts.append(f"![]({item['img_path']})\n\n{' '.join(item['img_caption'])}")
        else:
            parts.append(f"{' '.join(item['table_caption'])}\n\n{item['table_body']}")
    return "\n\n".join(parts) + "\n"


def _unit_files(
    stem: str, pages: list[Json], content: list[Json], mode: Mode, images: dict[str, bytes]
) -> dict[str, bytes]:
    middle = {"pdf_info": pages, "_parse_type": "ocr", "_version_name": "1.1.0"}
    files: dict[str, bytes] = {f"{stem}.md": _markdown(content).encode()}
    if mode != "markdown_only":
        files[f"{stem}_content_list.json"] = json.dumps(content, ensure_ascii=False).encode()
    if mode not in ("no_middle", "markdown_only"):
        files[f"{stem}_middle.json"] = json.dumps(middle, ensure_ascii=False).encode()
    for kind in ("model", "layout", "spans"):
        files[f"{stem}_{kind}.pdf"] = b"%PDF-1.4\n% stand-in debug PDF\n%%EOF\n"
    files.update(images)
    return files


def build_result(
    path: Path, stem: str, suffix: str, *, split: bool, mode: Mode
) -> tuple[dict[str, bytes], Produced]:
    """The entries of a realistic result ZIP for the file at `path`, and what went in."""
    sizes = _page_sizes(path, suffix)
    entries: dict[str, bytes] = {}
    all_pages, all_content, titles = [], [], []
    for index, size in enumerate(sizes):
        images: dict[str, bytes] = {}
        page, content = _page(index, size, images)
        titles.append(content[0]["text"])
        if split:
            page = {**page, "page_idx": 0}
            content = [{**item, "page_idx": 0} for item in content]
            for name, data in _unit_files(stem, [page], content, mode, images).items():
                entries[f"page_{index}/{name}"] = data
        else:
            all_pages.append(page)
            all_content.extend(content)
            entries.update(images)
    if not split:
        entries.update(_unit_files(stem, all_pages, all_content, mode, {}))
    image_names = sorted({name.rsplit("/", 1)[1] for name in entries if "/images/" in f"/{name}"})
    return entries, Produced("", stem, split, len(sizes), image_names, titles)


def _write_zip(target: Path, entries: dict[str, bytes], behaviour: Behaviour) -> None:
    mode = behaviour.mode
    if mode == "malformed_zip":
        target.write_bytes(b"PK\x03\x04" + secrets.token_bytes(2048))
        return
    with warnings.catch_warnings(), zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
        warnings.simplefilter("ignore")  # "Duplicate name" is the point of one mode
        for name, data in entries.items():
            bundle.writestr(name, data)
        if mode == "zip_bomb":
            with bundle.open("images/bomb.bin", "w", force_zip64=True) as out:
                block = bytes(1024 * 1024)
                for _ in range(behaviour.bomb_mb):
                    out.write(block)
        elif mode == "zip_slip":
            bundle.writestr("../escaped.txt", b"outside")
        elif mode == "absolute_path":
            info = zipfile.ZipInfo("tmp/absolute-escape.txt")
            info.filename = "/tmp/absolute-escape.txt"
            bundle.writestr(info, b"outside")
        elif mode == "link":
            info = zipfile.ZipInfo("images/link.jpg")
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            bundle.writestr(info, b"/etc/passwd")
        elif mode == "duplicate":
            first = next(iter(entries))
            bundle.writestr(first, b"second copy")
        elif mode == "many_entries":
            for i in range(behaviour.entries):
                bundle.writestr(f"extra/{i}.txt", b"x")


# -- the app ----------------------------------------------------------------------------


class FakeMonkeyOCR:
    """The stand-in server's state and ASGI app. `folder` holds the ZIPs it serves."""

    def __init__(self, folder: Path, behaviour: Behaviour | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.behaviour = behaviour or Behaviour()
        self.stats = Stats()
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/health", self._health, methods=["GET"]),
                Route("/parse", self._parse, methods=["POST"]),
                Route("/parse/split", self._parse_split, methods=["POST"]),
                Route("/static/{name:path}", self._static, methods=["GET"]),
                Route("/_control", self._control, methods=["POST"]),
                Route("/_stats", self._stats, methods=["GET"]),
            ]
        )

    def reset(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.stats = Stats()

    def _seen(self, request: Request) -> None:
        client = request.client
        self.stats.connections.append(f"{client.host}:{client.port}" if client else "?")

    async def _health(self, request: Request) -> Response:
        self._seen(request)
        self.stats.health_requests += 1
        return JSONResponse({"status": "healthy", "model_loaded": True})

    async def _control(self, request: Request) -> Response:
        values = await request.json()
        self.reset(Behaviour(**values))
        return JSONResponse(asdict(self.behaviour))

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(asdict(self.stats))

    @staticmethod
    async def _wait_unless_disconnected(request: Request, seconds: float) -> bool:
        """Wait `seconds`; False as soon as the client hangs up (as a real server
        abandoning a parse would)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            if await request.is_disconnected():
                return False
            await asyncio.sleep(min(0.05, max(deadline - loop.time(), 0)))
        return True

    async def _parse_split(self, request: Request) -> Response:
        return await self._parse(request, split=True)

    async def _parse(self, request: Request, split: bool = False) -> Response:
        self._seen(request)
        self.stats.parse_requests += 1
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            return await self._answer_parse(request, split)
        finally:
            self.stats.in_flight -= 1

    async def _answer_parse(self, request: Request, split: bool) -> Response:
        behaviour = self.behaviour
        if behaviour.mode == "drain":
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
            self.stats.uploads.append({"filename": "", "size": size, "sha256": ""})
            return JSONResponse({"detail": "Parsing failed: drained"}, status_code=400)
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return JSONResponse({"detail": "Parsing failed: no file"}, status_code=500)
            data = await upload.read()
            name = upload.filename
        self.stats.uploads.append(
            {"filename": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
        delay = behaviour.delay_s or (30.0 if behaviour.mode == "slow" else 0.0)
        if delay and not await self._wait_unless_disconnected(request, delay):
            self.stats.disconnects += 1
            return Response(status_code=499)
        if behaviour.mode == "status" and behaviour.times > 0:
            behaviour.times -= 1
            headers = {"Retry-After": "0"} if behaviour.status == 429 else None
            return JSONResponse(
                {"detail": f"Parsing failed: stand-in answered {behaviour.status}"},
                status_code=behaviour.status,
                headers=headers,
            )
        suffix = Path(name).suffix.lower()
        if suffix not in ACCEPTED_SUFFIXES:
            return JSONResponse(
                {"detail": f"Parsing failed: Unsupported file type: {suffix}"}, status_code=500
            )
        stem = Path(name).stem
        zip_name = f"{stem}_parsed_{int(time.time() * 1000)}_{secrets.token_hex(4)}.zip"
        produced = await asyncio.to_thread(self._produce, data, stem, suffix, split, zip_name)
        self.stats.produced.append(produced)
        if behaviour.mode == "foreign_host":
            download_url = behaviour.foreign_url.format(port=self.port, name=zip_name)
        else:
            download_url = f"/static/{zip_name}"
        return JSONResponse(
            {
                "success": True,
                "message": "Parsing completed",
                "output_dir": f"/srv/monkeyocr/output/{stem}",
                "files": sorted(name for name in _zip_names(Path(produced.zip_path))),
                "download_url": download_url,
            }
        )

    def _produce(self, data: bytes, stem: str, suffix: str, split: bool, zip_name: str) -> Produced:
        source = self.folder / f"upload-{secrets.token_hex(4)}{suffix}"
        source.write_bytes(data)
        try:
            entries, produced = build_result(
                source, stem, suffix, split=split, mode=self.behaviour.mode
            )
        finally:
            source.unlink()
        target = self.folder / zip_name
        _write_zip(target, entries, self.behaviour)
        produced.zip_path = str(target)
        return produced

    async def _static(self, request: Request) -> Response:
        self._seen(request)
        self.stats.static_requests += 1
        if self.behaviour.mode == "huge_zip":
            return StreamingResponse(_endless(), media_type="application/zip")
        name = request.path_params["name"]
        target = (self.folder / name).resolve()
        if not target.is_relative_to(self.folder.resolve()) or not target.is_file():
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return FileResponse(target, media_type="application/zip")


def _zip_names(path: Path) -> Iterator[str]:
    try:
        with zipfile.ZipFile(path) as bundle:
            yield from bundle.namelist()
    except zipfile.BadZipFile:
        return


async def _endless() -> AsyncIterator[bytes]:
    chunk = b"PK" + bytes(256 * 1024)
    for _ in range(16 * 1024):  # 4 GiB at most, should a client never stop
        yield chunk
        await asyncio.sleep(0)


class _QuietServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the host process keeps its own handlers
        return None


@asynccontextmanager
async def running_fake_monkeyocr(
    folder: Path, behaviour: Behaviour | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[FakeMonkeyOCR, str]]:
    """Serve a stand-in in the running event loop; yields (server, base URL)."""
    fake = FakeMonkeyOCR(folder, behaviour)
    config = uvicorn.Config(
        fake.app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            raise RuntimeError("the stand-in MonkeyOCR server did not start")
        await asyncio.sleep(0.02)
    fake.port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield fake, f"http://{host}:{fake.port}"
    finally:
        server.should_exit = True
        await serving
