"""Safe unpacking of a result ZIP that came from outside.

Every entry is checked before anything is written: normalized names only, no absolute
paths, no `..`, no links, no duplicates, and caps on entry count, total uncompressed
size and compression ratio. Blocking: call it in a thread.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from docmill.engines.base import EngineError

CHUNK = 64 * 1024
# Small entries compress extremely well when they are repetitive JSON; only larger ones
# can exhaust a disk, so the ratio is checked above this size.
RATIO_FLOOR_BYTES = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
RESULT_ZIP = "The result ZIP"


class UnsafeArchive(EngineError):
    """The result ZIP is damaged or tries to escape its folder or exhaust the disk."""


@dataclass(frozen=True)
class UnpackLimits:
    max_total_bytes: int = 1000 * 1024 * 1024
    max_entries: int = 20_000
    max_ratio: int = 200


def safe_name(raw: str, label: str = RESULT_ZIP) -> str:
    """The normalized relative POSIX name of an entry ('' for a folder entry).
    Raises UnsafeArchive for absolute names, drive letters, `..` and control characters."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsafeArchive(f"{label} has an entry with an absolute path ({raw!r}).")
    if any(ord(char) < 32 for char in name):
        raise UnsafeArchive(f"{label} has an entry name with control characters.")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"{label} has an entry that escapes its folder ({raw!r}).")
    return "/".join(parts)


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def check_entries(
    infos: list[zipfile.ZipInfo], limits: UnpackLimits, label: str = RESULT_ZIP
) -> list[tuple[zipfile.ZipInfo, str]]:
    """The (entry, normalized name) pairs to write, judged by the archive's directory.
    `label` names the archive in messages. Raises UnsafeArchive."""
    if len(infos) > limits.max_entries:
        raise UnsafeArchive(
            f"{label} has {len(infos)} entries; at most {limits.max_entries} are allowed."
        )
    seen: set[str] = set()
    files: list[tuple[zipfile.ZipInfo, str]] = []
    total = 0
    for info in infos:
        name = safe_name(info.filename, label)
        if _is_link(info):
            raise UnsafeArchive(f"{label} has a link entry ({info.filename!r}).")
        if info.is_dir() or not name:
            continue
        # Case-folded so two names cannot land on one file on a case-insensitive disk.
        key = name.casefold()
        if key in seen:
            raise UnsafeArchive(f"{label} has the entry {name!r} twice.")
        seen.add(key)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchive(
                f"{label} unpacks to more than "
                f"{limits.max_total_bytes // (1024 * 1024)} MB (a zip bomb?)."
            )
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise UnsafeArchive(
                f"{label} entry {name!r} is compressed more than {limits.max_ratio}:1 "
                "(a zip bomb?)."
            )
        files.append((info, name))
    # Names are checked whole first: "a" as a file and "a/b" would clash on disk.
    for name in seen:
        parent = PurePosixPath(name).parent
        while str(parent) != ".":
            if str(parent) in seen:
                raise UnsafeArchive(f"{label} uses {str(parent)!r} as file and folder.")
            parent = parent.parent
    return files


def unpack(archive: Path, destination: Path, limits: UnpackLimits) -> list[str]:
    """Unpack `archive` into the empty folder `destination`; the names written.
    Raises UnsafeArchive for a damaged or hostile ZIP (nothing is written outside
    `destination`; what was written inside may stay, for the caller to remove)."""
    root = destination.resolve()
    try:
        with zipfile.ZipFile(archive) as bundle:
            files = check_entries(bundle.infolist(), limits)
            written = 0
            for info, name in files:
                target = root.joinpath(*name.split("/"))
                if not target.resolve().is_relative_to(root):
                    raise UnsafeArchive(f"{RESULT_ZIP} entry {name!r} escapes its folder.")
                target.parent.mkdir(parents=True, exist_ok=True)
                # zipfile stops at the declared size and checks the CRC; the counter
                # keeps the total honest even so.
                with bundle.open(info) as source, target.open("xb") as out:
                    while chunk := source.read(CHUNK):
                        written += len(chunk)
                        if written > limits.max_total_bytes:
                            raise UnsafeArchive(f"{RESULT_ZIP} unpacks to more than allowed.")
                        out.write(chunk)
    except zipfile.BadZipFile as exc:
        raise UnsafeArchive(f"MonkeyOCR's result ZIP is damaged ({exc}).") from exc
    except (zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise UnsafeArchive(f"MonkeyOCR's result ZIP cannot be read ({exc}).") from exc
    return [name for _, name in files]


def verify(archive: Path, limits: UnpackLimits, label: str) -> None:
    """Check a ZIP without unpacking it: its directory as `unpack` does, then every entry
    read through (CRCs checked) with the real total counted, so a directory that lies
    about sizes is caught too. Raises UnsafeArchive; a damaged ZIP is one as well."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            read = 0
            for info, _ in check_entries(bundle.infolist(), limits, label):
                with bundle.open(info) as source:
                    while chunk := source.read(CHUNK):
                        read += len(chunk)
                        if read > limits.max_total_bytes:
                            raise UnsafeArchive(f"{label} unpacks to more than allowed.")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise UnsafeArchive(f"{label} is damaged ({exc}).") from exc
