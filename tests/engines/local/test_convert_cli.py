"""`docmill convert` run offline through the Typer app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from docmill.convert_cli import convert_app


def test_convert_writes_markdown_blocks_and_images(samples, tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = [str(samples["born_digital"].path), str(samples["figure"].path)]
    result = CliRunner().invoke(convert_app, [*files, "-o", str(out), "--engine", "local"])
    assert result.exit_code == 0, result.output
    english = out / "english"
    assert (english / "document.md").read_text().startswith("# Offline Reading")
    blocks = json.loads((english / "blocks.json").read_text())
    assert {b["type"] for b in blocks} >= {"title", "text", "header", "footer"}
    document = json.loads((english / "document.json").read_text())
    assert document["source"]["pages"] == 1 and document["engine"]["name"] == "local"
    figure_md = (out / "figure" / "document.md").read_text()
    assert "](images/p1_figure1.png)" in figure_md
    assert (out / "figure" / "images" / "p1_figure1.png").is_file()
    assert "english.pdf: 1 pages" in result.output


def test_convert_reports_bad_files_and_exits_nonzero(samples, tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        convert_app, [str(bad), str(samples["born_digital"].path), "-o", str(out)]
    )
    assert result.exit_code == 1
    assert "bad.png: The image is corrupt or truncated" in result.output
    assert (out / "english" / "document.md").is_file()
    assert not (out / "bad").exists()


def test_convert_refuses_an_unknown_engine(samples, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        convert_app,
        [str(samples["born_digital"].path), "-o", str(tmp_path), "--engine", "nope"],
    )
    assert result.exit_code == 2
    assert "Unknown engine: nope" in result.output
