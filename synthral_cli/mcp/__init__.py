"""The MCP surface: every connector action as a Model Context Protocol tool.

    schema.py   an action's parameters as JSON Schema (inputSchema, outputSchema)
    tools.py    tool names, titles, annotations; which tools a server exposes (Toolbox)
    meta.py     search_actions / describe_action / call_action over the whole catalogue
    calls.py    one tool call through the same core as ``synthral invoke``, as an MCP result
    confirm.py  asking the user (MCP elicitation) before a destructive tool runs
    server.py   the MCP SDK's low-level server over those, and the stdio transport
    http.py     the Streamable HTTP transport: an ASGI app factory, bearer check, uvicorn
    export.py   the same definitions for OpenAI (strict) and Anthropic tool APIs

Only ``server.py`` and ``http.py`` import the MCP SDK, and only when a server starts.
"""
