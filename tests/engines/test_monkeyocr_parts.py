"""The parts of the monkeyocr engine that need no server: unpacking, tables, URLs, JSON."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from docmill.engines.monkeyocr.client import ClientConfig, MonkeyOCRClient, MonkeyOCRError
from docmill.engines.monkeyocr.normalize import ResultUnreadable, normalize
from docmill.engines.monkeyocr.tables import clean_html, parse_table, to_markdown
from docmill.engines.monkeyocr.unpack import UnpackLimits, UnsafeArchive, safe_name, unpack


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in entries.items():
            info = zipfile.ZipInfo("placeholder")
            info.filename = name  # as given, unlike ZipInfo(name) which tidies some names
            bundle.writestr(info, data)
    return path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a/b.json", "a/b.json"), ("./a//b.json", "a/b.json"), ("a\\b.json", "a/b.json")],
)
def test_entry_names_are_normalized(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


@pytest.mark.parametrize(
    "raw", ["/etc/passwd", "C:/windows/x", "c:x", "a/../../x", "..\\x", "a/\x00b"]
)
def test_unsafe_entry_names_are_refused(raw: str) -> None:
    with pytest.raises(UnsafeArchive):
        safe_name(raw)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"a.json": b"1", "A.JSON": b"2"}, "twice"),
        ({"a": b"1", "a/b": b"2"}, "as file and folder"),
        ({"x\\..\\..\\y": b"1"}, "escapes its folder"),
    ],
)
def test_clashing_or_escaping_entries_are_refused(
    tmp_path: Path, entries: dict[str, bytes], message: str
) -> None:
    archive = make_zip(tmp_path / "r.zip", entries)
    with pytest.raises(UnsafeArchive, match=message):
        unpack(archive, tmp_path / "out", UnpackLimits())
    assert not (tmp_path / "out").exists()


def test_unpack_writes_only_inside_the_folder(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "r.zip", {"doc.md": b"# Hi", "images/a.jpg": b"\xff\xd8\xff"})
    names = unpack(archive, tmp_path / "out", UnpackLimits())
    assert sorted(names) == ["doc.md", "images/a.jpg"]
    assert (tmp_path / "out" / "images" / "a.jpg").read_bytes() == b"\xff\xd8\xff"


def test_table_html_becomes_markdown_and_clean_html() -> None:
    table = parse_table(
        '<table onclick="x()"><tr><th rowspan="2">Name</th><th>A<br>B</th></tr>'
        "<tr><td>1 | 2</td></tr><tr><td><script>bad()</script>z</td><td>&lt;i&gt;</td></tr>"
        "</table>"
    )
    assert to_markdown(table).splitlines() == [
        "| Name | A B |",
        "| --- | --- |",
        "|  | 1 \\| 2 |",
        "| bad()z | <i> |",
    ]
    markup = clean_html(table)
    assert "onclick" not in markup and "<script" not in markup
    assert markup.startswith('<table><tr><th rowspan="2">Name</th>')
    assert "&lt;i&gt;" in markup


@pytest.mark.parametrize(
    ("download_url", "allowed"),
    [
        ("/static/doc_parsed_1_ab.zip", True),
        ("static/doc.zip", True),
        ("http://127.0.0.1:7861/static/doc.zip", True),
        ("http://127.0.0.1:7862/static/doc.zip", False),
        ("https://127.0.0.1:7861/static/doc.zip", False),
        ("//evil.example/static/doc.zip", False),
        ("http://evil.example/static/doc.zip", False),
    ],
)
async def test_download_url_must_stay_on_the_configured_host(
    download_url: str, allowed: bool
) -> None:
    async with MonkeyOCRClient(ClientConfig("http://127.0.0.1:7861")) as client:
        if allowed:
            assert client.resolve(download_url).host == "127.0.0.1"
        else:
            with pytest.raises(MonkeyOCRError, match="another host"):
                client.resolve(download_url)


def test_hostile_middle_json_values_are_tolerated(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "images").mkdir(parents=True)
    (root / "secret.jpg").write_bytes(b"\xff\xd8\xff not for you")
    middle = {
        "pdf_info": [
            {
                "page_size": ["wide", None],
                "para_blocks": [
                    {"type": "text", "bbox": [0, "x", 1, 2], "lines": "nope"},
                    {
                        "type": "image",
                        "bbox": [1, 2, 3, 4],
                        "blocks": [
                            {
                                "type": "image_body",
                                "lines": [
                                    {"spans": [{"type": "image", "image_path": "../secret.jpg"}]}
                                ],
                            }
                        ],
                    },
                    {"type": "title", "lines": [{"spans": [{"type": "text", "content": "T"}]}]},
                    "not a block",
                ],
            }
        ]
    }
    (root / "doc_middle.json").write_text(json.dumps(middle))
    document = normalize(root, tmp_path / "out")
    assert [(b.type, b.text) for b in document.blocks] == [("figure", ""), ("title", "T")]
    assert document.blocks[0].image is None  # "../secret.jpg" is not images/secret.jpg
    assert document.pages[0].width == 0.0
    assert not (tmp_path / "out").exists()


def test_nothing_readable_in_the_result(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "doc_model.pdf").write_bytes(b"%PDF")
    with pytest.raises(ResultUnreadable, match=r"no middle\.json, content list or Markdown"):
        normalize(tmp_path / "r", tmp_path / "out")
