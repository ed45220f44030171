"""Running a whole study: the task graph, its execution on Dask, progress, outputs."""

from .progress import Progress
from .run import (ModelResults, StudyResults, SynchronyResults, analyse_synchrony, fit_key, fit_models,
                  run_study)

__all__ = ["ModelResults", "Progress", "StudyResults", "SynchronyResults", "analyse_synchrony", "fit_key", "fit_models",
           "run_study"]
