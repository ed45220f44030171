"""The methods section (``methods.md``) of a statistics-only run (``interbrain stats``):
the synchrony was computed elsewhere and given as a table, so no recording,
preprocessing step or synchrony computation is described, only the table analysed,
its null pairings and the statistics."""

from __future__ import annotations

import pandas as pd

from ..results import StudyResults
from .html import report_html
from .methods import null_tests_text, software_versions
from .statistics_methods import statistics_text

__all__ = ["synchrony_table_text", "statistics_only_methods_text",
           "statistics_only_report_html"]

_PAIRING_WORDS = {"pseudo": "pseudo-dyad", "familiarity": "familiarity",
                  "circular_shift": "circular-shift surrogate",
                  "phase_randomised": "phase-randomised surrogate"}


def synchrony_table_text(synchrony: pd.DataFrame, source: str) -> str:
    """What the synchrony table held: rows, dyad-sessions, signals, metrics, channel
    pairs, segments and the pairings of each kind.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The table as analysed.
    source : str
        The table's file (and digest), as the methods should name it.

    Returns
    -------
    str
    """
    real = synchrony[synchrony["pairing"] == "real"]
    n_sessions = len(real[["dyad", "session"]].drop_duplicates())
    pairs = sorted(set(real["pair"]))
    text = (f"Inter-brain synchrony was not computed by interbrain: it was computed "
            f"elsewhere and read from {source} ({len(synchrony)} rows), so no recording, "
            "preprocessing step or synchrony computation is described here. The table gave "
            f"real-dyad synchrony for {real['dyad'].nunique()} dyads and {n_sessions} "
            f"dyad-sessions, signal(s) {', '.join(sorted(set(synchrony['signal'])))}, "
            f"metric(s) {', '.join(sorted(set(synchrony['metric'])))}, "
            + ("one value per dyad-session" if pairs == ["all"] else
               f"{len(pairs)} channel pair(s); session synchrony is the mean over channel "
               "pairs"))
    if "segment" in synchrony.columns:
        labels = sorted(set(synchrony["segment"].dropna().astype(str)))
        if labels:
            text += f", and segments {', '.join(labels)}"
    text += "."
    nulls = []
    for kind, word in _PAIRING_WORDS.items():
        rows = synchrony[synchrony["pairing"] == kind]
        if len(rows):
            n = len(rows[["dyad", "partner_dyad", "session", "partner_session"]]
                    .drop_duplicates())
            nulls.append(f"{n} {word} pairings")
    if nulls:
        text += (" Null pairings were taken from the table as given (" + ", ".join(nulls)
                 + "); how they were formed is described by the pipeline that computed "
                 "them.")
    else:
        text += (" The table held no null pairings (pseudo-dyads, familiarity pairings or "
                 "surrogates), so no null control was possible.")
    return text


def statistics_only_methods_text(results: StudyResults, source: str) -> str:
    """A methods section for the statistics of a synchrony table computed elsewhere.

    Parameters
    ----------
    results : StudyResults
        Of :func:`~interbrain.engine.run.run_statistics` (no recordings, no QC).
    source : str
        The table's file (and digest).

    Returns
    -------
    str
        Markdown: participants, the synchrony table, statistics, software versions.
    """
    study = results.study
    v = software_versions()
    real = results.synchrony[results.synchrony["pairing"] == "real"]
    numbers = sorted(set(real["session"]))
    participants = (f"The study comprised {len(study.dyads)} therapist-patient dyads "
                    f"({len({d.therapist for d in study.dyads})} therapist(s)); the "
                    f"synchrony table gave {len(real[['dyad', 'session']].drop_duplicates())}"
                    f" dyad-sessions (session numbers {', '.join(map(str, numbers))}).")
    return f"""# Methods

*Written by interbrain {v['interbrain']} (`interbrain stats`: the statistics stage alone).*

**Participants.** {participants}

**Inter-brain synchrony.** {synchrony_table_text(results.synchrony, source)}
{null_tests_text(results)}

{statistics_text(results)}

**Software.** Python {v['python']}; interbrain {v['interbrain']}; NumPy {v['numpy']};
SciPy {v['scipy']}; pandas {v['pandas']}; statsmodels {v['statsmodels']}.
"""


def statistics_only_report_html(results: StudyResults, methods: str, source: str) -> str:
    """The HTML report of a statistics-only run.

    :func:`~interbrain.report.html.report_html`'s page with the parts that describe
    recordings replaced: the header names the synchrony's source instead of the band
    and channel pairs, the quality-control section says no recording was read, and
    the methods are ``methods`` (:func:`statistics_only_methods_text`).

    Parameters
    ----------
    results : StudyResults
    methods : str
        The methods text.
    source : str
        The synchrony table's file, as the page names it.

    Returns
    -------
    str
    """
    return report_html(results, methods=methods, synchrony_source=source)
