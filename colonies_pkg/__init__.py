"""colonies-py: a ColonyOS Colonies server, CLI and sample executor. Imports nothing."""

__version__ = "0.1.0"
