"""Input files as a sequence of pages: PDFs through pypdfium2, images through Pillow.

A source knows each page's size in points, can render a page to pixels within a bound,
and, for PDFs, can hand out the page's text layer as lines.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from docmill.document import BBox, Word
from docmill.engines.base import EngineError
from docmill.engines.local.geometry import TextLine

PDF_MAGIC = b"%PDF-"
IMAGE_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "TIFF", "BMP", "MPO"})


@dataclass(frozen=True)
class Rendered:
    """A page as RGB pixels; `scale` is pixels per point."""

    image: Image.Image
    scale: float


class PageSource(Protocol):
    kind: str  # "pdf" or "image"
    mime: str

    def __len__(self) -> int: ...

    def page_size(self, index: int) -> tuple[float, float]: ...

    def text_lines(self, index: int) -> list[TextLine]: ...

    def text_words(self, index: int) -> list[Word]: ...

    def render(self, index: int, dpi: float, max_pixels: int) -> Rendered: ...

    def image_boxes(self, index: int) -> list[BBox]: ...

    def close(self) -> None: ...


def _render_scale(width: float, height: float, wanted: float, max_pixels: int) -> float:
    """The largest scale not above `wanted` whose image stays within `max_pixels`."""
    if width <= 0 or height <= 0:
        raise EngineError("The page has no area.")
    return min(wanted, math.sqrt(max_pixels / (width * height)))


class PdfSource:
    """A PDF opened with pypdfium2."""

    kind = "pdf"
    mime = "application/pdf"

    def __init__(self, path: Path) -> None:
        import pypdfium2 as pdfium

        from docmill.engines.pdf_text import open_pdf

        self._errors = (pdfium.PdfiumError,)
        self._pdf = open_pdf(path)

    def __len__(self) -> int:
        return len(self._pdf)

    def _page(self, index: int) -> Any:
        try:
            return self._pdf[index]
        except self._errors as exc:
            raise EngineError(f"Page {index + 1} of the PDF cannot be read: {exc}.") from exc

    def page_size(self, index: int) -> tuple[float, float]:
        from docmill.engines.textlayer import page_size

        return page_size(self._page(index))

    def text_lines(self, index: int) -> list[TextLine]:
        """The page's text layer as lines; none when the layer is empty or unmapped glyphs."""
        from docmill.engines.textlayer import extract_page_lines, page_has_text_layer

        try:
            page = self._page(index)
            if not page_has_text_layer(page):
                return []
            lines = extract_page_lines(page)
            return [TextLine(line.bbox, line.text, line.size) for line in lines]
        except self._errors as exc:
            raise EngineError(f"The text of page {index + 1} cannot be read: {exc}.") from exc

    def text_words(self, index: int) -> list[Word]:
        """The words of the page's text layer with their boxes (Page.words)."""
        from docmill.engines.words import text_layer_words

        try:
            return text_layer_words(self._page(index))
        except self._errors as exc:
            raise EngineError(f"The text of page {index + 1} cannot be read: {exc}.") from exc

    def render(self, index: int, dpi: float, max_pixels: int) -> Rendered:
        page = self._page(index)
        width, height = self.page_size(index)
        scale = _render_scale(width, height, dpi / 72.0, max_pixels)
        try:
            image = page.render(scale=scale).to_pil().convert("RGB")
        except self._errors as exc:
            raise EngineError(f"Page {index + 1} cannot be rendered: {exc}.") from exc
        return Rendered(image=image, scale=image.width / width)

    def image_boxes(self, index: int) -> list[BBox]:
        """Where the page draws pictures, in page points (top-left origin)."""
        import pypdfium2.raw as pdfium_c

        from docmill.engines.textlayer import PageFrame

        page = self._page(index)
        frame = PageFrame.of(page)
        try:
            objects = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4)
            return [frame.box(*obj.get_bounds()) for obj in objects]
        except self._errors as exc:
            raise EngineError(f"The pictures of page {index + 1} cannot be read: {exc}.") from exc

    def close(self) -> None:
        self._pdf.close()


class ImageSource:
    """A raster image (multi-page TIFFs give one page per frame); 1 px = 1 pt."""

    kind = "image"

    def __init__(self, path: Path, max_image_pixels: int) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self._image = Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise EngineError(f"The image is too large to process safely: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise EngineError("The file is not an image docmill can read.") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            # Pillow reports broken headers as OSError, ValueError or SyntaxError.
            raise EngineError(f"The image is corrupt or truncated ({exc}).") from exc
        if self._image.format not in IMAGE_FORMATS:
            fmt = self._image.format
            self._image.close()
            raise EngineError(f"Image format {fmt} is not supported.")
        width, height = self._image.size
        if width <= 0 or height <= 0 or width * height > max_image_pixels:
            self._image.close()
            raise EngineError(
                f"The image is {width}x{height} pixels; at most {max_image_pixels} pixels "
                "are accepted."
            )
        self.mime = Image.MIME.get(self._image.format or "", "image/unknown")
        self._frames = getattr(self._image, "n_frames", 1) if self._image.format == "TIFF" else 1
        self._sizes: dict[int, tuple[float, float]] = {}

    def __len__(self) -> int:
        return int(self._frames)

    def _frame(self, index: int) -> Image.Image:
        """Frame `index`, decoded, upright (EXIF orientation applied) and in RGB."""
        try:
            self._image.seek(index)
            frame = ImageOps.exif_transpose(self._image)
            frame.load()
        except (OSError, ValueError, EOFError) as exc:
            raise EngineError(f"The image is corrupt or truncated ({exc}).") from exc
        if frame.width * frame.height <= 0:
            raise EngineError("The image has no pixels.")
        return frame.convert("RGB")

    def page_size(self, index: int) -> tuple[float, float]:
        if index not in self._sizes:
            frame = self._frame(index)
            self._sizes[index] = (float(frame.width), float(frame.height))
        return self._sizes[index]

    def text_lines(self, index: int) -> list[TextLine]:
        return []

    def text_words(self, index: int) -> list[Word]:
        return []

    def image_boxes(self, index: int) -> list[BBox]:
        return []

    def render(self, index: int, dpi: float, max_pixels: int) -> Rendered:
        frame = self._frame(index)
        self._sizes[index] = (float(frame.width), float(frame.height))
        scale = min(1.0, _render_scale(frame.width, frame.height, 1.0, max_pixels))
        if scale < 1.0:
            size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
            frame = frame.resize(size, Image.Resampling.LANCZOS)
        return Rendered(image=frame, scale=frame.width / self._sizes[index][0])

    def close(self) -> None:
        self._image.close()


def open_source(path: Path, max_image_pixels: int) -> PageSource:
    """The file as pages, decided by its first bytes.

    Raises EngineError for a missing, empty, corrupt or unsupported file, or an image
    above `max_image_pixels`.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise EngineError(f"The file cannot be read: {exc.strerror}.") from exc
    if not head:
        raise EngineError("The file is empty.")
    if PDF_MAGIC in head:
        return PdfSource(path)
    return ImageSource(path, max_image_pixels)
