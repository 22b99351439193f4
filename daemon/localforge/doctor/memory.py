"""The vector memory: the embedded Qdrant Edge, or a Qdrant server that must answer."""

from __future__ import annotations

from pathlib import Path

import httpx

from localforge.doctor.report import Check
from localforge.paths import Paths
from localforge.settings import Settings

GROUP = "setup"
TIMEOUT_S = 3.0


def memory_check(settings: Settings, paths: Paths) -> Check:
    url = settings.memory.url
    if not url:
        where = paths.data_dir / "memory" / "edge"
        return Check(GROUP, "memory", "ok", f"embedded Qdrant Edge at {where} (memory.url unset)")
    if url.startswith("file://"):
        return Check(GROUP, "memory", "ok", f"qdrant-client local mode in {Path(url[7:])}")
    headers = {"api-key": settings.memory.api_key} if settings.memory.api_key else {}
    base = url.rstrip("/")
    collection = settings.memory.collection
    try:
        with httpx.Client(timeout=TIMEOUT_S, headers=headers) as client:
            root = client.get(base + "/")
            found = client.get(f"{base}/collections/{collection}")
    except httpx.HTTPError as exc:
        return Check(
            GROUP,
            "memory",
            "fail",
            f"Qdrant server {url} (memory.url) does not answer: {exc}",
            "start the server, fix memory.url, or unset it to use the embedded Qdrant Edge",
        )
    if root.status_code in (401, 403) or found.status_code in (401, 403):
        return Check(
            GROUP,
            "memory",
            "fail",
            f"Qdrant server {url} refuses the API key (HTTP {found.status_code})",
            "set memory.api_key (or LOCALFORGE_MEMORY_API_KEY) to the server's key",
        )
    version = _version(root)
    if root.status_code >= 400 or version is None:
        return Check(
            GROUP,
            "memory",
            "fail",
            f"{url} answered HTTP {root.status_code}, not like a Qdrant server",
            "point memory.url at Qdrant's HTTP port (6333 by default)",
        )
    state = (
        f"collection '{collection}' exists"
        if found.status_code == 200
        else f"collection '{collection}' is created at start"
    )
    return Check(
        GROUP,
        "memory",
        "ok",
        f"Qdrant {version} at {url}: {state}",
        data={"url": url, "version": version, "collection_exists": found.status_code == 200},
    )


def _version(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    version = body.get("version") if isinstance(body, dict) else None
    return str(version) if version else None
