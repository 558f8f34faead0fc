"""The wire: parameters, encoders, the exact request (with the credential injected) and sending
it over HTTP, SMTP or PostgreSQL, one request at a time. Knows nothing of refresh or workflows."""
