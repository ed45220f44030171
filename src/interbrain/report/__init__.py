"""Report stage: the HTML report, its figures and the methods text.

Each function returns text or bytes (the engine writes them into the results folder):
the report reads a :class:`~interbrain.results.StudyResults` and imports nothing of the
engine.
"""

from .figure_files import figure_files
from .html import report_html
from .methods import methods_text, software_versions

__all__ = ["figure_files", "methods_text", "report_html", "software_versions"]
