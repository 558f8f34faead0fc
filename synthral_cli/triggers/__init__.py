"""Triggers: verified webhook deliveries (``verify.py``, ``schemes.py``), the receiver of
``synthral listen``, polling (``synthral watch``) and the spool of accepted events."""
