"""Sourced answers composed from retrieved passages."""
