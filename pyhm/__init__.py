"""pyhm: a home-metering appliance for German smart meters (SML over an IR head)."""

__version__ = "0.1.0"
