"""The one exception the publishing step raises for input it cannot publish."""

from __future__ import annotations

__all__ = ["PublishError"]


class PublishError(ValueError):
    """The sites cannot be published as given (missing columns, bad positions, duplicate ids,
    GeoJSON that fails validation). Nothing has been written when it is raised."""
