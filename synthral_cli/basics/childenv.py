"""The environment a child process (the browser) inherits: without synthral's secrets.

``BROWSER`` (or the desktop's opener, which ``webbrowser`` runs) gets the environment of the
process that starts it. Left alone that would hand it ``SYNTHRAL_STORE_KEY``, client secrets,
``SYNTHRAL_<SLUG>_TOKEN`` and ``NANGO_SECRET_KEY``. A child needs none of synthral's or Nango's
variables, so every ``SYNTHRAL_*`` and ``NANGO_*`` variable is left out, and so is any other
variable whose value holds a secret registered with ``redact`` (or has a credential's shape).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from .redact import redact

PREFIXES = ("SYNTHRAL_", "NANGO_")
_LOCK = threading.Lock()


def secret_names(env: Mapping[str, str]) -> list[str]:
    """The variables of ``env`` a child must not see."""
    return [k for k, v in env.items() if k.upper().startswith(PREFIXES) or redact(v) != v]


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the variables of ``secret_names``."""
    drop = set(secret_names(env))
    return {k: v for k, v in env.items() if k not in drop}


@contextmanager
def without_secrets() -> Iterator[None]:
    """``os.environ`` without the secret variables while the block runs, for launchers that
    take no ``env=`` (``webbrowser``, ``os.startfile``): children started inside inherit the
    rest. The variables are put back afterwards."""
    with _LOCK:
        removed = {k: os.environ.pop(k) for k in secret_names(os.environ)}
        try:
            yield
        finally:
            os.environ.update(removed)
