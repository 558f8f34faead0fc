"""What ``synthral token`` does once its arguments are parsed, free of Typer: the Typer command
(``authorize.py``) and the fast entry path (``main.py``) both call :func:`print_token`."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any


def print_token(rt: Any, slug: str, connection: str = "default") -> None:
    """Print the connection's access token or API key (refreshed if needed)."""
    from ..auth import credentials
    from ..basics.errors import UsageError

    manifest = rt.catalogue.get(slug)
    cred = credentials.resolve(rt.sy, manifest, connection)
    for key in ("access_token", "token", "api_key"):
        if cred.secrets.get(key):
            sys.stdout.write(cred.secrets[key] + "\n")
            sys.stdout.flush()
            return
    raise UsageError(
        f"{slug} uses {manifest.auth_type} credentials; there is no single token to print.",
        f"Use `synthral invoke {slug} ...` or `synthral request {slug} ...`, which apply them.",
    )
