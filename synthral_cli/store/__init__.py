"""The store: connections and OAuth app credentials at rest, encrypted with AES-GCM under a key
from the environment, the OS keyring or a key file. Imports ``basics`` only."""
