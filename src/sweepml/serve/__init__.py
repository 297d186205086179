"""``sweepml serve``: a fitted model behind HTTP, in MLflow's scoring protocol.

Optional extra ``serve`` (Starlette under uvicorn). ``build_app(load_service(path), settings)``
gives the ASGI application that ``sweepml serve`` runs, for embedding in another server.
"""

from sweepml.serve.app import ServeSettings, build_app
from sweepml.serve.service import TabularService, load_service

__all__ = ["ServeSettings", "TabularService", "build_app", "load_service"]
