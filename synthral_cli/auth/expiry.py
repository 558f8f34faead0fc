"""When a stored token is "expiring": the proactive refresh margin.

The margin was a fixed 60 s; with a provider that issues 30-second tokens every process found the
token another had just refreshed already "expiring" and refreshed again (8 processes, 8 grants).
Now it adapts to the lifetime the token was issued for (``expires_in``, kept as non-secret
metadata ``token_lifetime`` on the connection, on every backend): the smaller of 60 s and a
quarter of the lifetime. A connection stored before the lifetime was recorded keeps 60 s until
its next refresh records it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store.model import Connection

EXPIRY_MARGIN = 60.0  # refresh when fewer seconds than this remain ...
MARGIN_FRACTION = 0.25  # ... or, for short-lived tokens, less than this part of the issued lifetime
LIFETIME_KEY = "token_lifetime"  # Connection.metadata: seconds the access token was issued for


def margin(conn: Connection) -> float:
    """How early to refresh: 60 s, or a quarter of the issued lifetime when that is shorter (a
    30-second token is refreshed with 7.5 s left, so the token one process just got is not
    "expiring" again for the next process in line)."""
    life = conn.metadata.get(LIFETIME_KEY)
    if isinstance(life, (int, float)) and not isinstance(life, bool) and life > 0:
        return min(EXPIRY_MARGIN, float(life) * MARGIN_FRACTION)
    return EXPIRY_MARGIN


def expiring(conn: Connection) -> bool:
    return conn.expires_at is not None and conn.expires_at - time.time() < margin(conn)
