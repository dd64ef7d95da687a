"""Where published files go: a local folder or any fsspec URL (``s3://bucket/prefix``).

Readers must never see a half-written day. Two strategies, one interface:

* **local folder** – the day is written into a hidden staging folder beside it and moved in place
  with :func:`os.replace` (a re-published day swaps the old folder out first; a publisher killed
  between the two renames is repaired by the next one); ``latest.json`` is written to a temporary
  file and renamed over the old one.
* **object storage** – each object ``PUT`` is atomic on its own, so the day's objects are written
  in the order given: data first, then the manifest and its signature, and only then – by the
  caller – ``latest.json``. A reader who follows ``latest.json`` therefore finds every file the
  manifest names.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

__all__ = ["DAY_PATTERN", "PublishTarget"]

DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: staging/replaced folders older than this (seconds) are a killed publisher's leftovers
LEFTOVER_AGE_S = 600.0


class PublishTarget:
    """A publish root opened through fsspec.

    Parameters
    ----------
    root : str
        Local path or URL of the publish root.
    storage_options : dict, optional
        fsspec options (e.g. ``{"endpoint_url": ..., "key": ..., "secret": ...}`` for S3).
    """

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = str(root)
        self.fs, path = fsspec.core.url_to_fs(self.url, **dict(storage_options or {}))
        self.local = isinstance(self.fs, LocalFileSystem)
        self.root = path.rstrip("/")
        if self.local:
            os.makedirs(self.root, exist_ok=True)
            self._recover_local()

    def path(self, relpath: str) -> str:
        """Full fsspec path of ``relpath`` under the root."""
        return f"{self.root}/{relpath}"

    def read_bytes(self, relpath: str) -> bytes | None:
        """The object's bytes, or ``None`` if it does not exist."""
        try:
            return self.fs.cat_file(self.path(relpath))
        except (FileNotFoundError, IsADirectoryError):
            return None

    def exists(self, relpath: str) -> bool:
        """Whether ``relpath`` exists under the root."""
        return bool(self.fs.exists(self.path(relpath)))

    def days(self) -> list[str]:
        """Names of the day folders (YYYY-MM-DD) under the root, ascending."""
        self.fs.invalidate_cache()  # fsspec caches instances and listings across calls
        try:
            entries = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        names = {e.rstrip("/").rsplit("/", 1)[-1] for e in entries}
        return sorted(d for d in names if DAY_PATTERN.match(d))

    def put_day(self, day: str, files: Mapping[str, bytes]) -> None:
        """Publish the folder ``<root>/<day>/`` with exactly ``files`` (relative path -> bytes).

        On object storage the files are written in the mapping's order, so put data first and
        the manifest last.
        """
        if not DAY_PATTERN.match(day):
            raise ValueError(f"not a YYYY-MM-DD day: {day!r}")
        if self.local:
            self._put_day_local(day, files)
            return
        self.fs.invalidate_cache()
        for relpath, data in files.items():
            self.fs.pipe_file(self.path(f"{day}/{relpath}"), data)

    def put_atomic(self, relpath: str, data: bytes) -> None:
        """Write one file so that readers see either the old or the new bytes, never a mix."""
        if not self.local:
            self.fs.pipe_file(self.path(relpath), data)
            return
        final = self.path(relpath)
        tmp = f"{self.root}/.{os.path.basename(relpath)}.{uuid.uuid4().hex}.tmp"
        _write_synced(tmp, data)
        os.replace(tmp, final)
        _sync_dir(self.root)

    def _recover_local(self) -> None:
        """Finish what a killed publisher left: a day moved aside for replacement but not yet
        replaced goes back in place; staging folders and replaced copies are removed. Only
        leftovers older than :data:`LEFTOVER_AGE_S` are touched, so that a publisher still at
        work on the same root (not supported, but possible by mistake) is not undone."""
        now = time.time()
        for name in sorted(os.listdir(self.root)):
            path = f"{self.root}/{name}"
            if not name.startswith((".replaced-", ".staging-")):
                continue
            if now - os.path.getmtime(path) < LEFTOVER_AGE_S:
                continue
            if name.startswith(".replaced-"):
                day = name[len(".replaced-") :].split("-", 3)
                day = "-".join(day[:3])
                if DAY_PATTERN.match(day) and not os.path.exists(self.path(day)):
                    os.replace(path, self.path(day))
                else:
                    shutil.rmtree(path, ignore_errors=True)
            elif name.startswith(".staging-"):
                shutil.rmtree(path, ignore_errors=True)

    def _put_day_local(self, day: str, files: Mapping[str, bytes]) -> None:
        token = uuid.uuid4().hex
        staging = f"{self.root}/.staging-{day}-{token}"
        final = self.path(day)
        try:
            for relpath, data in files.items():
                target = f"{staging}/{relpath}"
                os.makedirs(os.path.dirname(target), exist_ok=True)
                _write_synced(target, data)
            old = None
            if os.path.exists(final):
                old = f"{self.root}/.replaced-{day}-{token}"
                os.replace(final, old)
            os.replace(staging, final)
            _sync_dir(self.root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _write_synced(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
