"""The reference server for NARWHAL_ASGI_REFERENCE=uvicorn: Gunicorn's UvicornWorker with the
uvicorn settings that Narwhal's ASGI flags map to (JSON in NARWHAL_REF_UVICORN, set by the
tests' server fixture)."""

import json
import os

from uvicorn.workers import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "auto", "http": "auto", **json.loads(os.environ.get("NARWHAL_REF_UVICORN", "{}"))}
