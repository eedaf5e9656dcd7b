"""Is the Hugging Face Hub reachable? One short check, before a Hub id is resolved.

Without network and without ``HF_HUB_OFFLINE``, huggingface_hub retries each request with back-off
(11 lines of ``'[Errno -2] Name or service not known' thrown while requesting HEAD ...`` and ~40 s
for ``--model gpt2``). One TCP connection to the endpoint (or the proxy), bounded by
``PROBE_TIMEOUT_S`` including the name lookup, decides it once per process instead: the caller then
reads the local cache only, or fails in one line.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlsplit

PROBE_TIMEOUT_S = 3.0
_checked: dict[str, str | None] = {}  # endpoint -> None when reachable, else why not


def hub_endpoint() -> str:
    """The endpoint huggingface_hub uses (HF_ENDPOINT, else https://huggingface.co)."""
    from huggingface_hub import constants

    return constants.ENDPOINT


def offline_mode() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _target(endpoint: str) -> tuple[str, int]:
    """(host, port) to connect to: the HTTPS/HTTP proxy when one is set, else the endpoint."""
    parts = urlsplit(endpoint)
    scheme = parts.scheme or "https"
    proxy = os.environ.get(f"{scheme}_proxy") or os.environ.get(f"{scheme.upper()}_PROXY") \
        or os.environ.get("all_proxy") or os.environ.get("ALL_PROXY")
    no_proxy = (os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or "").replace(" ", "").split(",")
    if proxy and parts.hostname not in no_proxy and "*" not in no_proxy:
        parts, scheme = urlsplit(proxy if "://" in proxy else f"http://{proxy}"), "http"
    return parts.hostname or "", parts.port or (443 if scheme == "https" else 80)


def unreachable_reason(endpoint: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when a TCP connection to the Hub (or its proxy) opens within ``timeout`` seconds,
    else a short reason. Checked once per endpoint and process."""
    endpoint = endpoint or hub_endpoint()
    if endpoint in _checked:
        return _checked[endpoint]
    host, port = _target(endpoint)
    result: list[str | None] = []

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(None)
        except OSError as error:
            result.append(f"{type(error).__name__}: {error.strerror or error}")

    # the name lookup has no timeout of its own: a thread bounds the whole check
    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    reason = result[0] if result else f"no answer from {host}:{port} within {timeout:g} s"
    _checked[endpoint] = reason
    return reason


def hub_access(repo_id: str) -> str:
    """How a Hub repo can be read now: ``"offline"`` (HF_HUB_OFFLINE is set: the libraries read the
    cache themselves), ``"online"`` (the Hub answers), ``"cache"`` (it does not, but the repo's
    config.json is in the local cache: read the cache only) or ``"unreachable"``."""
    from huggingface_hub import try_to_load_from_cache

    if offline_mode():
        return "offline"
    if unreachable_reason() is None:
        return "online"
    try:
        cached = isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id: the loader says so
        return "online"
    return "cache" if cached else "unreachable"


def unreachable_text(what: str, cache_checked: bool = False) -> str:
    """The one-line error for ``what`` (e.g. "model 'gpt2'") when the Hub cannot be reached;
    ``cache_checked``: the caller looked in the local cache and it is not there."""
    where = f"the Hugging Face Hub ({hub_endpoint()}) cannot be reached ({unreachable_reason()})"
    if cache_checked:
        return f"cannot load {what}: {where} and it is not in the local cache; connect once to download it"
    return (f"cannot load {what}: {where}; connect once to download it, or set HF_HUB_OFFLINE=1 to use "
            "a copy in the local cache")
