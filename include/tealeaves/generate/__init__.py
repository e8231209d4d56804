"""Synthetic exports with a planted truth, so every mart can be checked against known answers."""

from tealeaves.generate.world import Truth, default_truth
from tealeaves.generate.writer import generate

__all__ = ["Truth", "default_truth", "generate"]
