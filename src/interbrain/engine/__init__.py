"""Running a whole study: the task graph, its execution on Dask, progress, outputs.

:func:`run_study` runs a study into a results folder held by a :class:`RunDirectory`;
the result types it returns live in :mod:`interbrain.results`, the statistics stage in
:mod:`interbrain.stats.study_models`.
"""

from .progress import Progress
from .run import analyse_synchrony, run_study
from .run_directory import RunDirectory

__all__ = ["Progress", "RunDirectory", "analyse_synchrony", "run_study"]
