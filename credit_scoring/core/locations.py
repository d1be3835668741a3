"""Where a file lives: a local path, or an object in a store reached through fsspec (S3...).

Every location the code location reads or writes (the lake root, the applications CSV) is one
of the two, named by the same kind of value: a path, or a URL such as ``s3://bucket/prefix``.
"""

from __future__ import annotations

import os

from fsspec.utils import get_protocol
from upath import UPath

LOCAL_PROTOCOLS = ("", "file", "local")


def is_local_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a local path (or ``file://`` URL) rather than object storage."""
    return get_protocol(str(location)) in LOCAL_PROTOCOLS


def upath(location: str | os.PathLike[str]) -> UPath:
    """``location`` as a path object for either kind.

    s3fs remembers directory listings: an object another process has just written would stay
    invisible to this one (``exists()`` answering from a stale listing), so a store's listings
    are never cached.
    """
    options = {} if is_local_url(location) else {"use_listings_cache": False}
    return UPath(location, **options)
