"""``synthral serve``: the connector REST API (``/api/v1``), its OpenAPI description, a catalogue
page for people and MCP, as one ASGI app over the same library as the command line.

    app.create_app(sy, options)   -> the Starlette app (an app factory over a ``Synthral``)
    server.run(sy, options)       -> serve it with uvicorn until SIGTERM or Ctrl-C
    keys                          -> the API keys (hashes only) in ``<config>/serve-keys.json``

Nothing here imports Starlette or uvicorn at module level of this package: ``synthral --version``
and ``synthral invoke`` never load them.
"""
