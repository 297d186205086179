"""``sweepml serve``: a fitted model behind HTTP, in MLflow's scoring protocol.

Optional extra ``serve`` (Starlette under uvicorn). ``build_app(load_service(path), settings)``
gives the ASGI application that ``sweepml serve`` runs, for embedding in another server. The
application is imported on first use, so the request schema (``sweepml.serve.schema``), which
the MLflow model export shares, needs no server installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sweepml.serve.app import build_app
    from sweepml.serve.service import TabularService, load_service
    from sweepml.serve.settings import ServeSettings

__all__ = ["ServeSettings", "TabularService", "build_app", "load_service"]

_HOMES = {
    "ServeSettings": "sweepml.serve.settings",
    "build_app": "sweepml.serve.app",
    "TabularService": "sweepml.serve.service",
    "load_service": "sweepml.serve.service",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'sweepml.serve' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
