"""Triggers: verified webhook deliveries (``verify.py``, ``schemes.py``) for the receiver."""
