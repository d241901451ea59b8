"""Shotline: an AI film production line you talk to."""

import os

# Checkpoints hold only Shotline's own types; refuse to deserialise anything else (set before
# langgraph is imported, which reads it once).
os.environ.setdefault("LANGGRAPH_STRICT_MSGPACK", "true")

__version__ = "0.1.0"
