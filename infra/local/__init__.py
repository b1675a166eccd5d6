"""Local development stack: stand-ins for external services."""
