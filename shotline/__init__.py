"""Shotline: an AI film production line you talk to."""
