"""The lake root as a resource, shared by the IO manager and assets that read silver."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from credit_scoring.lake.storage import LakeStore


class LakeResource(dg.ConfigurableResource):
    """Where the Parquet lake lives: a local path, or an fsspec URL (s3://bucket/prefix)."""

    root: str = Field(description="Lake root path or URL")

    def store(self) -> LakeStore:
        return LakeStore(self.root)
