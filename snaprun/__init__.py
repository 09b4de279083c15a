"""snaprun: golden-transcript snapshot testing for LiveKit voice agents."""

__version__ = "0.1.0"
__all__ = ["__version__"]
