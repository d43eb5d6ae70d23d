"""Keep the parts of Markdown that must not be translated out of the engine's reach.

Code, LaTeX math, HTML tags and link targets are swapped for numbered placeholders
(`⟦0⟧`, digits only, so they survive case changes and most MT systems) before
translation and put back afterwards, so tables and equations come back intact.
"""

from __future__ import annotations

import re

_PROTECTED = re.compile(
    r"```.*?```"  # fenced code
    r"|\$\$.*?\$\$"  # display math
    r"|\\\[.*?\\\]"  # \[ … \]
    r"|\\\(.*?\\\)"  # \( … \)
    r"|(?<![\\$])\$(?!\s)[^$\n]+?(?<!\s)\$"  # inline $…$
    r"|`[^`\n]+`"  # inline code
    r"|<[^<>\n]+>"  # HTML tags (tables keep their structure)
    r"|\]\([^)\s]+\)",  # link / image target: keep "](url)"
    re.DOTALL,
)
_PLACEHOLDER = re.compile(r"⟦(\d+)⟧")
_LETTERS = re.compile(r"[^\W\d_]")


def mask(text: str) -> tuple[str, list[str]]:
    """The text with protected spans replaced by placeholders, and the spans in order."""
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"⟦{len(spans) - 1}⟧"

    return _PROTECTED.sub(keep, text), spans


def unmask(text: str, spans: list[str]) -> str:
    """Put the protected spans back; placeholders the engine invented are left as they are."""

    def restore(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return spans[number] if number < len(spans) else match.group(0)

    return _PLACEHOLDER.sub(restore, text)


def needs_translation(masked: str) -> bool:
    """False when nothing but placeholders, digits and punctuation is left."""
    return _LETTERS.search(_PLACEHOLDER.sub("", masked)) is not None
