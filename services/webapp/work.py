"""The real work the catalog's endpoints do beside their leak: files, logs, price sheets."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import requests

ORDER_LOGGER = "webapp.orders"
PRICE_SHEET_BYTES = 16 * 1024  # a rendered sheet: memoized, each is a real 16 KiB allocation
RECEIPT_BYTES = 8 * 1024  # a rendered receipt, held until it is closed


def price_sheet(sku: int) -> bytes:
    """A sku's price sheet, as an expensive render would produce it (16 KiB)."""
    line = hashlib.sha256(f"sku:{sku}".encode()).hexdigest().encode() + b"\n"
    return (line * (PRICE_SHEET_BYTES // len(line) + 1))[:PRICE_SHEET_BYTES]


class Receipt:
    """An order's rendered receipt; `close` lets its buffer go (a PDF document, a render)."""

    def __init__(self, order: int) -> None:
        line = hashlib.sha256(f"order:{order}".encode()).hexdigest().encode() + b"\n"
        self.body: bytes | None = (line * (RECEIPT_BYTES // len(line) + 1))[:RECEIPT_BYTES]

    def close(self) -> None:
        self.body = None


def _own_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def order_log(files_dir: str) -> Path:
    """The orders' log file, in the app's own directory."""
    return _own_dir(Path(files_dir)) / "orders.log"


def exports_dir(files_dir: str) -> Path:
    return _own_dir(Path(files_dir) / "exports")


def order_loggers() -> list[logging.Logger]:
    """The per-order loggers the logging manager holds (it never drops a logger)."""
    prefix = f"{ORDER_LOGGER}."
    return [
        logger
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if name.startswith(prefix) and isinstance(logger, logging.Logger)
    ]


def drop_loggers(loggers: list[logging.Logger]) -> int:
    """Close their files and take them out of the logging manager; how many were dropped."""
    for logger in loggers:
        for handler in logger.handlers[:]:
            logger.removeHandler(handler)
            handler.close()
        logging.Logger.manager.loggerDict.pop(logger.name, None)
    return len(loggers)


def drain(response: requests.Response) -> None:
    """Read a response to its end, so its connection goes back to the session's pool."""
    _ = response.content
    response.close()
