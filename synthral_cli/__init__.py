"""synthral: connect people, shell scripts and CI jobs to SaaS APIs.

Use from Python::

    from synthral_cli import Synthral

    sy = Synthral()
    for c in sy.connectors(category="payments"):
        print(c["slug"], c["name"])
    slack = sy.connector("slack")
"""

from __future__ import annotations

import sys

from .basics.version import __version__

# httpx imports its own command-line tool (click, rich, pygments: ~50 ms) whenever click happens
# to be installed. synthral never uses that tool, so mark the module as absent: httpx then skips
# it (its import is guarded by ``except ImportError``). See README "Performance".
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time
    from typing import Any

    from .api import Synthral

__all__ = ["Synthral", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Synthral":
        from .api import Synthral

        return Synthral
    raise AttributeError(name)
