"""The embedded `local` engine: offline and CPU-only.

Per page (`pages.process_page`): a PDF page with a usable text layer takes its lines from
pypdfium2 (`textlayer`); any other page, and every image, is rendered (`sources`) and read
by RapidOCR (`ocr`). rapid-layout (`layout`) types the regions of both kinds of page;
`structure` turns lines and regions into paragraphs, titles, lists, captions, headers and
footers, `reading` orders them column by column, `tables` recovers table cells, and
figure, table and equation regions are cropped into `images/`. `furniture` then looks
across pages for repeated running heads and page numbers.

Models (`models`) are created on first use in the converting process and kept for its
life; nothing is loaded when the engine is imported or constructed.
"""

from docmill.engines.local.engine import LocalEngine

__all__ = ["LocalEngine"]
