"""Null controls: pairings of people who did not interact (pseudo-dyads)."""

from .pseudo_dyads import Pairing, real_pairings, pseudo_dyad_pairings

__all__ = ["Pairing", "real_pairings", "pseudo_dyad_pairings"]
