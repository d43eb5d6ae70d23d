"""docmill: PDFs and images to Markdown, blocks and images, as a self-hosted service."""

__version__ = "0.1.0"
