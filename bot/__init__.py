"""Samizdat: answers history questions from a library of texts, citing every source."""

__version__ = "0.1.0"
