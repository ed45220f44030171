"""What data each dyad-session contributed: the ``retained.parquet`` table.

A run changes the data it is given in several ways, each for a good reason: quality
control drops channels, the recordings of a session number are brought to their
lowest common sampling rate, the two partners are cut to the time both recorded,
and a session without a ``measures.csv`` row (or with empty cells) drops out of the
outcome models. :func:`data_retained` gathers all of it in one table, one row per
dyad and session; :func:`retained_messages` and :func:`retained_text` state it in
the log and in ``methods.md``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence

import pandas as pd

from .assembly import session_crop
from .design import ROLES, RecordingRef
from .study import Study

__all__ = ["RETAINED_COLUMNS", "data_retained", "retained_messages", "log_retained", "crop_steps",
           "retained_text", "minutes_text", "steps_key"]

#: Columns of :func:`data_retained`, in order.
RETAINED_COLUMNS = [
    "dyad", "session", "file_therapist", "file_patient",
    "channels_kept_therapist", "channels_total_therapist",
    "channels_kept_patient", "channels_total_patient",
    "dropped_therapist", "dropped_patient", "channel_pairs",
    "minutes_analysed", "minutes_therapist", "minutes_patient", "cut",
    "sfreq_therapist", "sfreq_patient", "sfreq_analysed",
    "resampled_therapist", "resampled_patient",
    "measures_row", "measures_present", "measures_missing",
]


def steps_key(study: Study, ref: RecordingRef) -> str:
    """Key of ``ref`` in a run's preprocessing chains (``preprocessing.json``): the
    file relative to the study folder, plus ``#role`` for a one-device file."""
    return os.path.relpath(ref.path, study.root) + (f"#{ref.role}" if ref.channels else "")


def _resample_steps(chain: Sequence[Mapping]) -> list[Mapping]:
    return [s for s in chain if s.get("step") == "resample" and not s.get("skipped")]


def data_retained(study: Study, qc: pd.DataFrame, synchrony: pd.DataFrame,
                  steps: Mapping[str, Sequence[Mapping]],
                  overlaps: pd.DataFrame) -> pd.DataFrame:
    """The data each dyad-session of ``study`` contributed to the analysis.

    Parameters
    ----------
    study : Study
        The study; one row per entry of ``study.sessions``, and its measures
        (``study.measures``, ``study.measure_columns``).
    qc : pandas.DataFrame
        Per-recording and channel quality (``qc.parquet``): columns ``dyad, session,
        role, file, channel, bad, sfreq, duration_s``.
    synchrony : pandas.DataFrame
        The synchrony table (``synchrony.parquet``); its real pairings
        (``pairing == "real"``) give the channel pairs analysed.
    steps : mapping
        Recording (see :func:`steps_key`) -> the preprocessing chain applied to it,
        including the ``"resample"`` step of the session stage
        (``preprocessing.json``'s ``recordings``).
    overlaps : pandas.DataFrame
        The time window of each pairing (columns
        :data:`~interbrain.synchrony.session.OVERLAP_COLUMNS`: ``dyad, partner_dyad,
        session, signal, pairing, sfreq, n_times, duration_s``).

    Returns
    -------
    pandas.DataFrame
        One row per dyad-session, columns :data:`RETAINED_COLUMNS`:

        - ``dyad`` (str), ``session`` (int);
        - ``file_therapist``, ``file_patient`` (str): the recordings, relative to the
          study folder;
        - ``channels_kept_<role>``, ``channels_total_<role>`` (int): channels of that
          person's recording that passed quality control, and all its channels;
        - ``dropped_<role>`` (str): the channels quality control dropped,
          comma-separated (reasons in ``qc.parquet``); empty when none;
        - ``channel_pairs`` (int): channel pairs with real-dyad synchrony;
        - ``minutes_analysed`` (float, minutes): the time both partners recorded
          (their overlap once aligned), on which synchrony was computed;
        - ``minutes_<role>`` (float, minutes): the duration of that recording;
        - ``cut`` (bool): the session was cut to its partners' overlap, i.e.
          ``minutes_analysed`` is shorter than the longer recording by more than one
          sample (False for a cropped session: its crop says what was kept);
        - ``sfreq_<role>`` (float, Hz): the recording's sampling rate;
        - ``sfreq_analysed`` (float, Hz): the common rate synchrony was computed at
          (the lowest rate of the recordings of the session number);
        - ``resampled_<role>`` (bool): that recording was resampled to
          ``sfreq_analysed``;
        - ``measures_row`` (bool): ``measures.csv`` has a row for the dyad-session;
        - ``measures_present``, ``measures_missing`` (str): the study's measures
          (``study.measure_columns``) with and without a value for the dyad-session,
          comma-separated; both empty when the study has no measures;
        - ``crop`` (str), only when a session has a ``crop``: the part of the aligned
          common window analysed, as ``study.toml`` gives it (``[30, 330]``,
          ``["start_task", "end_task"]``); empty for the other sessions.
    """
    qc = qc[qc["role"].isin(ROLES)]
    by_recording = {key: part for key, part in qc.groupby(["dyad", "session", "role"])}
    real = synchrony[(synchrony["pairing"] == "real")
                     & (synchrony["dyad"] == synchrony["partner_dyad"])]
    pairs = real.groupby(["dyad", "session"])["pair"].nunique().to_dict()
    spans = overlaps[(overlaps["pairing"] == "real")
                     & (overlaps["dyad"] == overlaps["partner_dyad"])]
    spans = spans.drop_duplicates(["dyad", "session"]).set_index(["dyad", "session"])
    measure_columns = list(study.measure_columns)
    measures = study.measures.set_index(["dyad", "session"])
    rows = []
    for s in study.sessions:
        row: dict = {"dyad": s.dyad, "session": int(s.session)}
        for role in ROLES:
            ref = s.recording(role)
            rec = by_recording[(s.dyad, s.session, role)]
            bad = rec["bad"].astype(bool)
            row.update({f"file_{role}": os.path.relpath(ref.path, study.root),
                        f"channels_kept_{role}": int((~bad).sum()),
                        f"channels_total_{role}": len(rec),
                        f"dropped_{role}": ", ".join(rec.loc[bad, "channel"]),
                        f"minutes_{role}": float(rec["duration_s"].iloc[0]) / 60.0,
                        f"sfreq_{role}": float(rec["sfreq"].iloc[0]),
                        f"resampled_{role}": bool(_resample_steps(
                            steps.get(steps_key(study, ref), [])))})
        row["channel_pairs"] = int(pairs.get((s.dyad, s.session), 0))
        span = spans.loc[(s.dyad, s.session)]
        row["sfreq_analysed"] = float(span["sfreq"])
        row["minutes_analysed"] = float(span["duration_s"]) / 60.0
        longest = max(row["minutes_therapist"], row["minutes_patient"]) * 60.0
        crop = session_crop(s)
        row["cut"] = crop is None and bool(longest - float(span["duration_s"])
                                           > 1.0 / float(span["sfreq"]) + 1e-9)
        row["crop"] = crop.described() if crop is not None else ""
        has_row = (s.dyad, s.session) in measures.index
        values = measures.loc[(s.dyad, s.session)] if has_row else None
        present = [m for m in measure_columns if has_row and pd.notna(values[m])]
        row["measures_row"] = bool(has_row)
        row["measures_present"] = ", ".join(present)
        row["measures_missing"] = ", ".join(m for m in measure_columns if m not in present)
        rows.append(row)
    cropped = any(r["crop"] for r in rows)
    out = pd.DataFrame(rows, columns=RETAINED_COLUMNS + (["crop"] if cropped else []))
    return out.astype({"session": int, "cut": bool, "measures_row": bool,
                       "resampled_therapist": bool, "resampled_patient": bool,
                       "channel_pairs": int})


def _rates(table: pd.DataFrame, role: str) -> pd.DataFrame:
    done = table[table[f"resampled_{role}"]]
    return pd.DataFrame({"dyad": done["dyad"], "session": done["session"], "role": role,
                         "file": done[f"file_{role}"], "from_hz": done[f"sfreq_{role}"],
                         "to_hz": done["sfreq_analysed"]})


def _resampled(table: pd.DataFrame) -> pd.DataFrame:
    """One row per resampled recording: ``dyad, session, role, file, from_hz, to_hz``."""
    return pd.concat([_rates(table, role) for role in ROLES], ignore_index=True)


def _where(row) -> str:
    return f"dyad {row.dyad}, session {row.session}"


def retained_messages(retained: pd.DataFrame, measure_columns: Sequence[str]
                      ) -> list[tuple[int, str]]:
    """What the run changed or left out, one message per dyad-session and fact.

    Parameters
    ----------
    retained : pandas.DataFrame
        The table of :func:`data_retained`.
    measure_columns : sequence of str
        The study's measures (``study.measure_columns``); with none, missing
        ``measures.csv`` rows are not reported.

    Returns
    -------
    list of (int, str)
        Logging level and message: a warning for a session without a
        ``measures.csv`` row, with empty measures, or cut to its partners' overlap;
        information for channels dropped by quality control and recordings
        resampled.
    """
    out: list[tuple[int, str]] = []
    for row in retained.itertuples(index=False):
        where = _where(row)
        if measure_columns and not row.measures_row:
            out.append((logging.WARNING, f"{where}: no row in measures.csv; the session "
                                         "is left out of the outcome models"))
        elif measure_columns and row.measures_missing:
            out.append((logging.WARNING, f"{where}: measures.csv has no value of "
                                         f"{row.measures_missing}"))
        for role in ROLES:
            dropped = getattr(row, f"dropped_{role}")
            if dropped:
                kept, total = (getattr(row, f"channels_kept_{role}"),
                               getattr(row, f"channels_total_{role}"))
                out.append((logging.INFO,
                            f"{where}: {total - kept} of {total} channels of the {role} "
                            f"({getattr(row, f'file_{role}')}) dropped by quality "
                            f"control: {dropped}"))
            if getattr(row, f"resampled_{role}"):
                out.append((logging.INFO,
                            f"{where}: {role} recording ({getattr(row, f'file_{role}')}) "
                            f"resampled from {getattr(row, f'sfreq_{role}'):g} Hz to "
                            f"{row.sfreq_analysed:g} Hz, the common rate of session "
                            f"number {row.session}"))
        crop = getattr(row, "crop", "")
        if crop:
            out.append((logging.INFO,
                        f"{where}: cropped to {crop} (crop in study.toml, seconds from the "
                        f"start of the aligned common window or event names): "
                        f"{minutes_text(row.minutes_analysed)} minutes analysed"))
        if row.cut:
            out.append((logging.WARNING,
                        f"{where}: cut to the overlap of its partners' recordings: "
                        f"{minutes_text(row.minutes_analysed)} minutes analysed (therapist "
                        f"{minutes_text(row.minutes_therapist)}, patient "
                        f"{minutes_text(row.minutes_patient)} minutes recorded)"))
    return out


def log_retained(retained: pd.DataFrame, measure_columns: Sequence[str],
                 logger: logging.Logger | None = None) -> None:
    """Log :func:`retained_messages` and the summary of :func:`retained_text`.

    Parameters
    ----------
    retained : pandas.DataFrame
        The table of :func:`data_retained`.
    measure_columns : sequence of str
        The study's measures.
    logger : logging.Logger, optional
        Default: the ``"interbrain"`` logger.
    """
    logger = logger or logging.getLogger("interbrain")
    for level, message in retained_messages(retained, measure_columns):
        logger.log(level, "%s", message)
    logger.info("data retained: %s", retained_text(retained, measure_columns))


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def retained_text(retained: pd.DataFrame, measure_columns: Sequence[str]) -> str:
    """Sentences with the counts of :func:`data_retained`, for ``methods.md``.

    E.g. "Of 48 dyad-sessions, 46 had a row of session measures (of these, alliance
    was missing for 1). Quality control dropped 3 of 960 channels of the sessions'
    recordings, leaving 477 channel pairs in 48 dyad-sessions. 2 recordings were
    resampled from 16 Hz to 8 Hz, the common rate of their session number. 1 session
    was cut to the overlap of its partners' recordings (shortest 9.5 of 10 minutes)."

    Parameters
    ----------
    retained : pandas.DataFrame
        The table of :func:`data_retained`.
    measure_columns : sequence of str
        The study's measures; without any, the measures are not mentioned.
    """
    n = len(retained)
    parts = []
    if measure_columns:
        with_row = retained[retained["measures_row"]]
        text = f"Of {_count(n, 'dyad-session')}, {len(with_row)} had a row of session measures"
        missing = []
        for m in measure_columns:
            k = sum(m in names.split(", ") for names in with_row["measures_missing"])
            if k:
                missing.append(f"{m} was missing for {k}")
        if missing:
            text += " (of these, " + ", ".join(missing) + ")"
        parts.append(text + ".")
    kept = int(retained["channels_kept_therapist"].sum()
               + retained["channels_kept_patient"].sum())
    total = int(retained["channels_total_therapist"].sum()
                + retained["channels_total_patient"].sum())
    parts.append(f"Quality control dropped {total - kept} of {_count(total, 'channel')} "
                 f"of the sessions' recordings, leaving "
                 f"{_count(int(retained['channel_pairs'].sum()), 'channel pair')} in "
                 f"{_count(n, 'dyad-session')}.")
    resampled = _resampled(retained)
    k = len(resampled)
    if k:
        groups = resampled.groupby(["from_hz", "to_hz"]).size()
        if len(groups) == 1:
            (lo, hi), = groups.index
            parts.append(f"{_count(k, 'recording')} {_was(k)} resampled from {lo:g} Hz to "
                         f"{hi:g} Hz, the common rate of {'its' if k == 1 else 'their'} "
                         "session number.")
        else:
            items = ", ".join(f"{c} from {lo:g} Hz to {hi:g} Hz"
                              for (lo, hi), c in groups.items())
            parts.append(f"{_count(k, 'recording')} were resampled to the common rate of "
                         f"their session number ({items}).")
    else:
        parts.append("No recording was resampled.")
    cut = retained[retained["cut"]]
    if len(cut):
        shortest = cut.loc[cut["minutes_analysed"].idxmin()]
        longest = max(shortest["minutes_therapist"], shortest["minutes_patient"])
        parts.append(f"{_count(len(cut), 'session')} {_was(len(cut))} cut to the overlap of "
                     f"{'its' if len(cut) == 1 else 'their'} partners' recordings (shortest "
                     f"{minutes_text(shortest['minutes_analysed'])} of {minutes_text(longest)} "
                     "minutes).")
    else:
        parts.append("No session was cut to the overlap of its partners' recordings.")
    if "crop" in retained and (retained["crop"] != "").any():
        minutes = retained.loc[retained["crop"] != "", "minutes_analysed"]
        k = len(minutes)
        parts.append(f"{_count(k, 'session')} {_was(k)} cropped to the part of the aligned "
                     "recordings that study.toml's crop names (minutes analysed: "
                     f"{minutes_text(minutes.min())}-{minutes_text(minutes.max())}).")
    return " ".join(parts)


def minutes_text(value: float) -> str:
    """Minutes to two decimals, without trailing zeros: 9.5, 0.75, 10; "" for NaN."""
    value = float(value)
    return f"{round(value, 2):g}" if math.isfinite(value) else ""


def crop_steps(study: Study, overlaps: pd.DataFrame) -> dict[str, list[dict]]:
    """The ``crop`` step of each recording of a session with a ``crop``, for
    ``preprocessing.json``.

    Parameters
    ----------
    study : Study
    overlaps : pandas.DataFrame
        The time window of each pairing (``dyad, partner_dyad, session, pairing,
        duration_s``): the real pairing's is the cropped window.

    Returns
    -------
    dict
        :func:`steps_key` of the recording -> ``[{"step": "crop", "crop": [start, end],
        "seconds": ..., ...}]``; sessions without a crop are left out.
    """
    real = overlaps[(overlaps["pairing"] == "real")
                    & (overlaps["dyad"] == overlaps["partner_dyad"])]
    seconds = real.drop_duplicates(["dyad", "session"]).set_index(
        ["dyad", "session"])["duration_s"]
    out: dict[str, list[dict]] = {}
    for s in study.sessions:
        crop = session_crop(s)
        if crop is None or (s.dyad, s.session) not in seconds.index:
            continue
        step = {"step": "crop", "function": "interbrain.assembly.crop_recordings",
                "crop": crop.as_list(), "seconds": float(seconds[(s.dyad, s.session)]),
                "reason": "crop of the session in study.toml (seconds from the start of the "
                          "aligned common window, or event names), applied after alignment; "
                          "pseudo-dyads of the session number pair the cropped recordings"}
        for ref in (s.therapist, s.patient):
            out.setdefault(steps_key(study, ref), []).append(step)
    return out
