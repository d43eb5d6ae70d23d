"""The blob store: one folder a task, holding the original and every artifact.

```
<blob_dir>/<id[:2]>/<id>/original.<ext>
                         result/document.md, blocks.json, document.json, chunks.jsonl,
                                document.txt, searchable.pdf, source.pdf (Office), images/,
                                result.zip
                         pages/<n>.png
```
Writes go to a temporary name and are renamed into place, so a reader never sees half a file.
Every method here is blocking; async callers run them in a thread.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

RESULT_DIR = "result"
RESULT_ZIP = "result.zip"
PAGES_DIR = "pages"
DOCUMENT_MD = "document.md"
BLOCKS_JSON = "blocks.json"
DOCUMENT_JSON = "document.json"
DOCUMENT_TXT = "document.txt"
SEARCHABLE_PDF = "searchable.pdf"
OFFICE_PDF = "source.pdf"  # the PDF LibreOffice made of an Office original
CHUNKS_JSONL = "chunks.jsonl"


class BlobStore:
    def __init__(self, root: Path, tmp_dir: Path) -> None:
        self.root = root
        self.tmp_dir = tmp_dir

    def task_dir(self, task_id: str) -> Path:
        return self.root / task_id[:2] / task_id

    def original_path(self, task_id: str, ext: str) -> Path:
        return self.task_dir(task_id) / f"original.{ext}"

    def result_dir(self, task_id: str) -> Path:
        return self.task_dir(task_id) / RESULT_DIR

    def result_zip(self, task_id: str) -> Path:
        return self.result_dir(task_id) / RESULT_ZIP

    def page_image(self, task_id: str, page: int) -> Path:
        return self.task_dir(task_id) / PAGES_DIR / f"{page}.png"

    def new_temp_path(self, suffix: str = "") -> Path:
        """A fresh name in the temporary folder (same filesystem as the store)."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return self.tmp_dir / f"{uuid.uuid4().hex}{suffix}"

    def put_original(self, task_id: str, source: Path, ext: str) -> Path:
        """Move an uploaded temporary file into the task's folder."""
        target = self.original_path(task_id, ext)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        return target

    def work_dir(self, task_id: str) -> Path:
        """A fresh folder for an engine run; `commit_result` moves it into place."""
        folder = self.task_dir(task_id) / f".work-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        return folder

    def commit_result(self, task_id: str, work_dir: Path) -> None:
        """Replace the task's result folder with `work_dir` (one rename for the swap)."""
        target = self.result_dir(task_id)
        if target.exists():
            old = target.with_name(f".old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(work_dir, target)

    def discard(self, path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def clear_result(self, task_id: str) -> None:
        """Remove the result and anything derived from it (before a retry)."""
        folder = self.task_dir(task_id)
        for name in (RESULT_DIR, PAGES_DIR):
            self.discard(folder / name)
        for leftover in folder.glob(".work-*"):
            self.discard(leftover)

    def copy_result(self, source_task: str, target_task: str) -> None:
        """Give `target_task` the result of `source_task` (hard links where possible)."""
        source = self.result_dir(source_task)
        staging = self.task_dir(target_task) / f".work-{uuid.uuid4().hex[:8]}"
        shutil.copytree(source, staging, copy_function=_link_or_copy)
        self.commit_result(target_task, staging)

    def remove_task(self, task_id: str) -> None:
        shutil.rmtree(self.task_dir(task_id), ignore_errors=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary name and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
