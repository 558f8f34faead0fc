"""The store: connections and OAuth app credentials at rest. ``encrypted.Store`` (the API) seals
secrets with AES-GCM under a key from the environment, the OS keyring or a key file, above a
``backend.StoreBackend`` (SQLite today) that only sees ciphertext. Imports ``basics`` only."""
