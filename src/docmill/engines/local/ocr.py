"""Text recognition with RapidOCR: an RGB page image in, text lines in page points out."""

from __future__ import annotations

import numpy as np
from PIL import Image

from docmill.engines.local.geometry import TextLine
from docmill.engines.local.models import ocr_model
from docmill.engines.words import ocr_line_words

# Lines the recognizer is less sure of than this are dropped as noise.
MIN_LINE_SCORE = 0.5


def to_bgr(image: Image.Image) -> np.ndarray:
    """The image as the BGR uint8 array both ONNX pipelines expect."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def recognize_lines(image: Image.Image, scale: float) -> list[TextLine]:
    """Every text line RapidOCR finds, its box divided by `scale` (pixels per point)."""
    result = ocr_model()(to_bgr(image))
    boxes = getattr(result, "boxes", None)
    texts = getattr(result, "txts", None)
    scores = getattr(result, "scores", None)
    if boxes is None or texts is None or scores is None or len(texts) == 0:
        return []
    word_results = getattr(result, "word_results", None) or ()
    if len(word_results) != len(texts):
        word_results = [()] * len(texts)
    lines: list[TextLine] = []
    for quad, text, score, words in zip(boxes, texts, scores, word_results, strict=True):
        if float(score) < MIN_LINE_SCORE or not str(text).strip():
            continue
        xs = [float(point[0]) for point in quad]
        ys = [float(point[1]) for point in quad]
        bbox = (min(xs) / scale, min(ys) / scale, max(xs) / scale, max(ys) / scale)
        size = bbox[3] - bbox[1]
        lines.append(
            TextLine(bbox, str(text).strip(), size, float(score), ocr_line_words(words, scale))
        )
    return lines
