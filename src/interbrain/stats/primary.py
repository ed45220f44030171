"""``[statistics.primary]``: what a study's confirmatory tests are about (see
:mod:`interbrain.stats.confirmatory` for the family they form)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .._check import settings_from_table
from ..errors import StudyError

__all__ = ["PrimarySettings", "ALL_PAIRS"]

#: ``scope`` of rows computed over every channel pair.
ALL_PAIRS = "all pairs"


@dataclass(frozen=True)
class PrimarySettings:
    """``[statistics.primary]``: what the study's confirmatory tests are about.

    Parameters
    ----------
    signal : str
        Primary haemoglobin signal (``""``: the first of ``[analysis] signals``).
    metric : str
        Primary synchrony metric (``""``: the first of ``[analysis] metrics``).
    measures : tuple of str
        Measures whose within-dyad association with synchrony is confirmatory (empty:
        the plasticity test alone).
    region : str
        Restrict the primary channel pairs to the channel pairs within one region of
        ``[regions]`` (both channels in it); ``""`` for every channel pair.
    pairs : tuple of str
        Or restrict them to these channel pairs (values of the synchrony table's
        ``pair`` column); empty for every channel pair.
    """

    signal: str = ""
    metric: str = ""
    measures: tuple[str, ...] = ()
    region: str = ""
    pairs: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, table: object, where: str) -> "PrimarySettings":
        """The settings of a ``[statistics.primary]`` table, checked for form.

        Whether the names exist in the study is checked by the study loader.

        Raises
        ------
        StudyError
            Naming ``where`` and the first bad field.
        """
        settings = settings_from_table(cls, table, where, StudyError)
        for name in ("measures", "pairs"):
            values = getattr(settings, name)
            if not all(isinstance(v, str) and v for v in values):
                raise StudyError(f"{where}: field '{name}' must be a list of names, got "
                                 f"{list(values)!r}")
            if len(set(values)) != len(values):
                raise StudyError(f"{where}: field '{name}' lists a name twice: "
                                 f"{list(values)!r}")
        if settings.region and settings.pairs:
            raise StudyError(f"{where}: give 'region' or 'pairs', not both")
        return settings

    @property
    def scope(self) -> str:
        """The primary channel pairs in words (the ``scope`` column of its rows)."""
        if self.region:
            return f"region {self.region}"
        if self.pairs:
            return "pairs " + ", ".join(self.pairs)
        return ALL_PAIRS

    def select(self, synchrony: pd.DataFrame) -> pd.DataFrame:
        """The rows of the tidy synchrony table in the primary scope.

        Parameters
        ----------
        synchrony : pandas.DataFrame
            With ``pair`` (and ``region_therapist, region_patient`` for a region).

        Returns
        -------
        pandas.DataFrame
        """
        if self.region:
            keep = ((synchrony["region_therapist"] == self.region)
                    & (synchrony["region_patient"] == self.region))
            return synchrony[keep]
        if self.pairs:
            return synchrony[synchrony["pair"].isin(self.pairs)]
        return synchrony
