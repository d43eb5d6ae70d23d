"""The languages docmill names by code (in English and in the language itself), and the
language list MonkeyOCR-WebApp clients read from `/api/mt/languages`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docmill.translation.base import LanguagePair

# code: (English name, native name)
NAMES: dict[str, tuple[str, str]] = {
    "en": ("English", "English"),
    "zh": ("Chinese (Simplified)", "简体中文"),
    "zh-TW": ("Chinese (Traditional)", "繁體中文"),
    "ja": ("Japanese", "日本語"),
    "ko": ("Korean", "한국어"),
    "fr": ("French", "Français"),
    "de": ("German", "Deutsch"),
    "es": ("Spanish", "Español"),
    "it": ("Italian", "Italiano"),
    "pt": ("Portuguese", "Português"),
    "ru": ("Russian", "Русский"),
    "ar": ("Arabic", "العربية"),
    "hi": ("Hindi", "हिन्दी"),
    "vi": ("Vietnamese", "Tiếng Việt"),
    "nl": ("Dutch", "Nederlands"),
}
PREFERRED_DEFAULT = LanguagePair("en", "zh")  # what MonkeyOCR-WebApp offers first


def english_name(code: str) -> str:
    return NAMES.get(code, (code, code))[0]


def _language(code: str) -> dict[str, str]:
    name, native = NAMES.get(code, (code, code))
    return {"code": code, "name": name, "native_name": native}


def codes_of(pairs: Sequence[LanguagePair]) -> list[str]:
    """Every language code the pairs name, in order of first appearance."""
    seen: dict[str, None] = {}
    for pair in pairs:
        seen.setdefault(pair.source)
        seen.setdefault(pair.target)
    return list(seen)


def languages_view(pairs: Sequence[LanguagePair]) -> dict[str, Any]:
    """`{languages: [{code, name, native_name}], default_source, default_target,
    supported_pairs: [{source, target, description}]}` of an engine's pairs."""
    default = PREFERRED_DEFAULT if PREFERRED_DEFAULT in pairs or not pairs else pairs[0]
    return {
        "languages": [_language(code) for code in codes_of(pairs)],
        "default_source": default.source,
        "default_target": default.target,
        "supported_pairs": [
            {
                "source": pair.source,
                "target": pair.target,
                "description": f"{english_name(pair.source)} to {english_name(pair.target)}",
            }
            for pair in pairs
        ],
    }
