"""Actions: invoking a connector action end to end — parameter and scope checks, the credential,
dry runs, the ``Connector`` extension point and its entry-point registry (synthral's own HTTP,
SMTP and PostgreSQL connectors and installed plugins), delivery with 401 refresh and pagination,
the Nango proxy."""
