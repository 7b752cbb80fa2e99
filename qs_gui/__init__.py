"""qs-gui: desktop client for the Bluesky Queue Server (RE Manager)."""

__version__ = "0.1.0"
