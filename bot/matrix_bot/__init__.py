"""The Matrix adapter: rooms in, core commands, sourced notices out."""

from bot.matrix_bot.run import run_matrix

__all__ = ["run_matrix"]
