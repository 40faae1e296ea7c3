"""megamath: build math pre-training corpora from Common Crawl, the MegaMath way."""

__version__ = "0.1.0"
