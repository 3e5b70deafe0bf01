"""The server itself: its health, and the store it owns."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from sqlalchemy.engine import make_url

from evalstore import __version__
from evalstore.server.deps import StateDep
from evalstore.server.schemas import HealthOut, StoreInfoOut, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["server"])


@router.get("/health", response_model=HealthOut, responses=error_responses(401))
async def health(state: StateDep) -> dict[str, Any]:
    """Whether the server is up. Answers at once, even while a batch is being written."""
    return {"status": "ok", "version": __version__, "max_body_bytes": state.max_body_bytes}


@router.get("/store", response_model=StoreInfoOut, responses=error_responses(401))
def store_info(state: StateDep) -> dict[str, Any]:
    """Where the store is, its size on disk and what it holds (``Store.info()``)."""
    info = asdict(state.store.info())
    try:
        info["metadata_url"] = make_url(info["metadata_url"]).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: say nothing of it rather than leak a password
        info["metadata_url"] = "(hidden)"
    return info
