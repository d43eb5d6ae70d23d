"""File types are decided by content; the name only tells Markdown from other text."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from docmill.document import Block
from docmill.errors import InvalidFile, UnsupportedFile
from docmill.exports.plain_text import block_text, inline_text, table_text
from docmill.pipeline.filetypes import FileKind, identify
from tests.support import office
from tests.support.documents import text_pdf


def kind(tmp_path: Path, data: bytes, name: str) -> FileKind:
    path = tmp_path / "upload"
    path.write_bytes(data)
    return identify(path, data[:1024], name)


@pytest.mark.parametrize(
    ("data", "name", "file_type"),
    [
        (text_pdf([["x"]]), "scan.docx", "pdf"),
        (office.docx_bytes(), "report.bin", "docx"),
        (office.pptx_bytes(), "slides", "pptx"),
        (office.xlsx_bytes(), "sheet.zip", "xlsx"),
        (b"\xef\xbb\xbf<!-- saved page -->\n<!DOCTYPE html><html><p>x</p></html>", "a.txt", "html"),
        (b"<p>A fragment of <b>HTML</b></p>", "fragment.html", "html"),
        (b"# Title\n\nSome *text*.\n", "notes.md", "markdown"),
        (b"# Title\n\nSome *text*.\n", "notes.MARKDOWN", "markdown"),
        (
            b"Received: from a by b\r\n\tfolded\r\nFrom: a@example.com\r\nSubject: hi\r\n\r\nbody",
            "mail",
            "email",
        ),
    ],
)
def test_kinds_by_content(tmp_path: Path, data: bytes, name: str, file_type: str) -> None:
    assert kind(tmp_path, data, name).file_type == file_type


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"# Title\n\nplain text is not Markdown without the name", "notes.txt"),
        (b"<p>looks like HTML but named otherwise</p>", "notes.txt"),
        (office.random_zip(), "renamed.docx"),
        (b"\x00\x01\x02binary", "data.md"),
        (b"Subject: only one header\n\nbody", "mail.eml"),
    ],
)
def test_unsupported_content_is_415(tmp_path: Path, data: bytes, name: str) -> None:
    with pytest.raises(UnsupportedFile):
        kind(tmp_path, data, name)


def test_ooxml_without_its_main_part_is_not_office(tmp_path: Path) -> None:
    source = zipfile.ZipFile(io.BytesIO(office.docx_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                target.writestr(info, source.read(info))
    with pytest.raises(UnsupportedFile):
        kind(tmp_path, buffer.getvalue(), "broken.docx")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (office.encrypted_docx(), "encrypted_document"),
        (office.macro_docm(), "macro_enabled_document"),
        (b"", "empty_file"),
    ],
)
def test_refused_office_files_have_their_own_codes(tmp_path: Path, data: bytes, code: str) -> None:
    with pytest.raises(InvalidFile) as refused:
        kind(tmp_path, data, "document.docx")
    assert refused.value.code == code


def test_plain_text_has_no_markdown_syntax() -> None:
    assert inline_text("See [the docs](http://x) and **bold** \\* star") == (
        "See the docs and bold * star"
    )
    assert table_text("| a | b |\n| --- | --- |\n| 1 | **2** |") == "a\tb\n1\t2"
    listed = Block(id="l", page=0, order=0, type="list", bbox=(0, 0, 0, 0), text="- one\n1. two")
    assert block_text(listed) == "one\ntwo"
    # Block-level syntax is read only where the block type says it is there.
    title = Block(id="t", page=0, order=0, type="title", bbox=(0, 0, 0, 0), text="1. Introduction")
    assert block_text(title) == "1. Introduction"
