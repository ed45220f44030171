"""The methods text (Markdown, as in ``methods.md``) as HTML prose for the report, and
the results paragraph in APA style.

The Markdown is the small subset :func:`~interbrain.report.methods.methods_text`
writes: ``#`` headings, paragraphs, ``-`` lists, ``**bold**``, ``*italic*`` and
```code```. Everything is HTML-escaped before any markup is added, so user text in the
methods (measure names, file names) stays text.
"""

from __future__ import annotations

import re

import markupsafe

from ..results import StudyResults
from .apa import apa_ci, apa_df, apa_number, apa_p_clause, apa_statistic, decimals_for
from .confirmatory import confirmatory_rows, slope_units
from .wording import is_true, null_label, where_label

__all__ = ["markdown_html", "results_paragraph"]

_INLINE = ((re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
           (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<em>\1</em>"))


_BULLET = re.compile(r"^\s*[-*]\s+")


def _inline(text: str) -> str:
    out = str(markupsafe.escape(text))
    # code spans first, kept apart so that their contents get no emphasis
    pieces = re.split(r"(`[^`]+`)", out)
    done = []
    for piece in pieces:
        if piece.startswith("`") and piece.endswith("`") and len(piece) > 1:
            done.append(f"<code>{piece[1:-1]}</code>")
            continue
        for pattern, repl in _INLINE:
            piece = pattern.sub(repl, piece)
        done.append(piece)
    return "".join(done)


def markdown_html(text: str) -> markupsafe.Markup:
    """Markdown (the subset of ``methods.md``) as HTML.

    Parameters
    ----------
    text : str

    Returns
    -------
    markupsafe.Markup
        Headings one level below the report's sections (``#`` -> ``<h3>``),
        paragraphs and lists.
    """
    html = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        heading = re.match(r"^(#{1,4})\s+(.*)$", lines[0])
        if heading and len(lines) == 1:
            level = min(6, len(heading.group(1)) + 2)
            html.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif all(_BULLET.match(line) for line in lines):
            items = "".join(f"<li>{_inline(_BULLET.sub('', line))}</li>" for line in lines)
            html.append(f"<ul>{items}</ul>")
        else:
            html.append(f"<p>{_inline(' '.join(line.strip() for line in lines))}</p>")
    return markupsafe.Markup("\n".join(html))


def _plasticity_sentence(row) -> str:
    d = decimals_for(row["estimate"], row["ci_low"], row["ci_high"])
    where = where_label(row["signal"], row["metric"], row.get("scope"))
    grew = "grew" if is_true(row.get("significant")) and row["estimate"] > 0 else \
        "did not grow significantly"
    return (f"The excess of real over {null_label(row.get('null_kind') or 'pseudo')} "
            f"synchrony ({where}) {grew} over sessions, "
            f"b = {apa_number(row['estimate'], d)} {slope_units(row['term'])}, 95% CI "
            f"{apa_ci(row['ci_low'], row['ci_high'], d)}, "
            f"{apa_p_clause(row.get('p_family', row.get('p_permutation')), 'permutation p')}"
            f" (Holm-adjusted {apa_p_clause(row.get('p_adjusted'))}).")


def _outcome_sentence(row) -> str:
    d = decimals_for(row["estimate"], row["ci_low"], row["ci_high"])
    measure = str(row["model"]).partition(":")[2]
    related = "was" if is_true(row.get("significant")) else "was not significantly"
    return (f"Within dyads, {measure} {related} associated with synchrony, "
            f"b = {apa_number(row['estimate'], d)}, 95% CI "
            f"{apa_ci(row['ci_low'], row['ci_high'], d)}, t({apa_df(row['df'])}) = "
            f"{apa_statistic(row['t'])}, {apa_p_clause(row.get('p_family', row['p']))} "
            f"(Holm-adjusted {apa_p_clause(row.get('p_adjusted'))}).")


def results_paragraph(results: StudyResults) -> str:
    """The confirmatory results as one paragraph in APA style, every number from its
    row of ``models.parquet``; empty when no confirmatory test ran.

    Returns
    -------
    str
    """
    rows = confirmatory_rows(results.models, results.study.statistics.primary.measures)
    if not len(rows):
        return ""
    sentences = [f"The pre-specified confirmatory family comprised {len(rows)} "
                 f"test{'s' if len(rows) != 1 else ''}, Holm-corrected at \u03b1 = "
                 f"{results.study.statistics.alpha:g}."]
    for _, row in rows.iterrows():
        if str(row["model"]).startswith("plasticity"):
            sentences.append(_plasticity_sentence(row))
        elif str(row["model"]).startswith("outcome:"):
            sentences.append(_outcome_sentence(row))
    return " ".join(sentences)
