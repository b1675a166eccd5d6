"""Infrastructure: deployment templates and local stand-ins."""
