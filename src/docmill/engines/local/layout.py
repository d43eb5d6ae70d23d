"""Layout analysis with rapid-layout (CDLA labels): a page image in, typed regions out."""

from __future__ import annotations

from PIL import Image

from docmill.engines.local.geometry import Region
from docmill.engines.local.models import layout_model
from docmill.engines.local.ocr import to_bgr

CDLA_LABELS = frozenset(
    {
        "text",
        "title",
        "figure",
        "figure_caption",
        "table",
        "table_caption",
        "header",
        "footer",
        "reference",
        "equation",
    }
)


def detect_regions(image: Image.Image, scale: float) -> list[Region]:
    """Layout regions of the page, boxes divided by `scale` (pixels per point)."""
    result = layout_model()(to_bgr(image))
    if result.boxes is None or result.class_names is None or result.scores is None:
        return []
    regions: list[Region] = []
    for box, label, score in zip(result.boxes, result.class_names, result.scores, strict=True):
        kind = str(label)
        if kind not in CDLA_LABELS:
            continue
        x0, y0, x1, y1 = (float(v) / scale for v in box)
        regions.append(Region(kind=kind, bbox=(x0, y0, x1, y1), score=float(score)))
    return regions
