"""OAuth 2.0 for synthral: the loopback callback server and the grant flows.

    loopback.py   CallbackServer: one valid redirect to 127.0.0.1, then it closes
    flows.py      authorization code + PKCE, device grant (RFC 8628), client credentials,
                  refresh, revocation (RFC 7009), token-response parsing

Everything here is core code: it raises ``synthral_cli.errors`` and never prints; the command
layer passes an ``Interaction`` (flows.py) for what the user must see.
"""

from __future__ import annotations
