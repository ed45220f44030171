"""Report stage: the HTML report, its figures and the methods text."""

from .html import render_report, write_report
from .methods import methods_text, software_versions, write_methods

__all__ = ["render_report", "write_report", "methods_text", "software_versions",
           "write_methods"]
