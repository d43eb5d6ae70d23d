"""The embedded `local` engine: pypdfium2 text layer, rapid-layout and RapidOCR, all offline."""

from docmill.engines.local.engine import LocalEngine

__all__ = ["LocalEngine"]
