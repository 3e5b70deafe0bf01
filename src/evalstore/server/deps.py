"""What routes depend on, as ``Annotated`` dependencies: the server's state and a model."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Request

from evalstore.sdk import Model, Store
from evalstore.server.uploads import UploadArea

__all__ = ["ModelDep", "ModelName", "ServerState", "StateDep", "get_state"]


@dataclass
class ServerState:
    """The store the server owns, and what serialises writes to it."""

    store: Store
    uploads: UploadArea
    max_body_bytes: int
    api_key: str | None = None
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    """held by every write (one batch at a time: DuckDB has one connection, and a batch's plan
    must see the model as the previous batch left it), and by closing the store"""
    closed: bool = False

    def close(self) -> None:
        """Close the store once no batch is being written."""
        with self.write_lock:
            if not self.closed:
                self.closed = True
                self.store.close()


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.evalstore
    return state


StateDep = Annotated[ServerState, Depends(get_state)]

ModelName = Annotated[
    str,
    Path(description="The model's name: 1-200 letters, digits, '.', '_' or '-'."),
]


def get_model(state: StateDep, name: ModelName) -> Model:
    """The model named in the path; an unknown name is a 404 ``ModelNotFound``."""
    return state.store.model(name)


ModelDep = Annotated[Model, Depends(get_model)]
