"""Actions: invoking a connector action end to end — parameter and scope checks, the credential,
dry runs, delivery with 401 refresh and pagination, transports, the Nango proxy."""
