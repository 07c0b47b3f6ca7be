"""Mendel host: G-code in, timed step runs out, to a board running Mendel firmware."""

__version__ = "0.1.0"
