"""Office documents to PDF through LibreOffice headless, confined.

Each conversion runs `soffice --convert-to pdf` in its own process group with a fresh,
throw-away profile folder (macros off, every HTTP fetch sent to a dead proxy), without a
network where the system allows it (`unshare --net`), with an address-space limit
(RLIMIT_AS, set by `prlimit`) and a time limit after which the whole group is killed.
OOXML packages are checked for zip bombs before LibreOffice ever sees them. Blocking:
run in a thread.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from docmill.engines.base import EngineError
from docmill.engines.monkeyocr.unpack import UnpackLimits, verify

PACKAGE_LABEL = "The Office document"
ENABLE_HINT = (
    "Office documents need LibreOffice on the server: install it "
    "(apt-get install libreoffice-core libreoffice-writer libreoffice-calc "
    "libreoffice-impress) or point DOCMILL_OFFICE_SOFFICE at its soffice program."
)
# A fresh profile: no macros at all, no update checks, every HTTP(S) fetch of linked
# content through a proxy on a closed local port, so it fails at once.
_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">
 <prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">
 <prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Inet/Settings">
 <prop oor:name="ooInetProxyType" oor:op="fuse"><value>1</value></prop></item>
<item oor:path="/org.openoffice.Inet/Settings">
 <prop oor:name="ooInetHTTPProxyName" oor:op="fuse"><value>127.0.0.1</value></prop></item>
<item oor:path="/org.openoffice.Inet/Settings">
 <prop oor:name="ooInetHTTPProxyPort" oor:op="fuse"><value>9</value></prop></item>
<item oor:path="/org.openoffice.Inet/Settings">
 <prop oor:name="ooInetHTTPSProxyName" oor:op="fuse"><value>127.0.0.1</value></prop></item>
<item oor:path="/org.openoffice.Inet/Settings">
 <prop oor:name="ooInetHTTPSProxyPort" oor:op="fuse"><value>9</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc">
 <prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


@dataclass(frozen=True)
class OfficeSettings:
    """How LibreOffice is run (from Settings; picklable for a worker process)."""

    soffice: str = "soffice"
    timeout_s: float = 120.0
    max_memory_mb: int = 2048
    package_limits: UnpackLimits = field(default_factory=UnpackLimits)


def soffice_path(command: str) -> str | None:
    """The LibreOffice program named by the setting, if it is installed."""
    return shutil.which(command)


def check_package(path: Path, limits: UnpackLimits) -> None:
    """Refuse an OOXML package that would unpack too far (entries, total size, ratio,
    sizes its directory lies about) or escape its folder. Raises UnsafeArchive."""
    verify(path, limits, PACKAGE_LABEL)


@functools.cache
def _can_unshare() -> bool:
    """Whether this system lets a child run without a network (`unshare --net`)."""
    program = shutil.which("unshare")
    if program is None:
        return False
    try:
        done = subprocess.run([program, "--net", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def network_isolated() -> bool:
    """Whether conversions run without a network (else only the dead proxy guards)."""
    return _can_unshare()


def _command(
    program: str, profile: Path, source: Path, out_dir: Path, max_memory_mb: int
) -> list[str]:
    command = [
        program,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--invisible",
        "--norestore",
        "--nolockcheck",
        "--nodefault",
        "--nologo",
        "--convert-to",
        "pdf",
        "--outdir",
        str(out_dir),
        str(source),
    ]
    # prlimit sets the limit on the program it starts (no preexec_fn in a threaded parent);
    # LibreOffice's own children inherit it.
    prlimit = shutil.which("prlimit")
    if prlimit is not None and max_memory_mb > 0:
        command = [prlimit, f"--as={max_memory_mb * 1024 * 1024}", "--", *command]
    if _can_unshare():
        command = [str(shutil.which("unshare")), "--net", *command]
    return command


def convert_to_pdf(source: Path, target: Path, settings: OfficeSettings) -> Path:
    """`source` (an Office document) converted by LibreOffice into the PDF `target`.

    Raises EngineError when LibreOffice is missing, fails, exceeds the time limit (its
    whole process group is killed) or produces no PDF.
    """
    program = soffice_path(settings.soffice)
    if program is None:
        raise EngineError(ENABLE_HINT)
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="docmill-office-", dir=target.parent) as scratch:
        folder = Path(scratch)
        profile = folder.resolve() / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_PROFILE)
        # LibreOffice names its output after the input: give it a plain name.
        staged = folder / f"document{source.suffix or '.bin'}"
        try:
            os.link(source, staged)
        except OSError:
            shutil.copyfile(source, staged)
        out_dir = folder / "out"
        environment = {
            "HOME": str(folder),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TMPDIR": str(folder),
            "SAL_USE_VCLPLUGIN": "svp",
        }
        process = subprocess.Popen(
            _command(program, profile, staged, out_dir, settings.max_memory_mb),
            cwd=folder,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=settings.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise EngineError(
                f"LibreOffice did not finish converting the document within "
                f"{settings.timeout_s:g} s and was stopped; the document may be too large or "
                "damaged (DOCMILL_OFFICE_TIMEOUT_S sets the limit)."
            ) from None
        finally:
            _kill_group(process)  # helpers LibreOffice left behind
        produced = out_dir / "document.pdf"
        if process.returncode != 0 or not produced.is_file() or produced.stat().st_size == 0:
            detail = output.decode("utf-8", "replace").strip().splitlines()[-1:] if output else []
            raise EngineError(
                "LibreOffice could not convert the document (damaged, or a format it "
                f"cannot read){': ' + detail[0] if detail else ''}."
            )
        os.replace(produced, target)
    return target


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
