"""Variance components of a power simulation estimated from a finished run.

``interbrain power --from RESULTS`` simulates studies with the variance components of
the user's own data rather than :class:`~interbrain.stats.pairing_simulation.
PairingModel`'s defaults. They are estimated from the run's session-level synchrony
of every real and pseudo-dyad pairing (``RESULTS/synchrony.parquet`` averaged over
channel pairs, as :func:`~interbrain.stats.excess.pairing_sessions` does for the
plasticity test) by one crossed linear mixed model, the model the simulation draws
from (:mod:`~interbrain.stats.pairing_simulation`)::

    synchrony ~ time + real + real_time
                + (1 | therapist) + (1 | patient)
                + (1 | therapist_recording) + (1 | patient_recording)
                + (1 | session_number)
                + (0 + real | dyad) + (0 + real_time | dyad)

fitted by REML with :func:`~interbrain.stats.mixed.lmer` (lme4's estimator). One row
per pairing of the therapist recording of dyad ``i`` with the patient recording of
dyad ``j`` at session ``s`` (``i == j``: the real dyad); ``real`` is 1 on real rows,
``time`` the simulation's time (``session - 1`` or ``log(session)``, so that the
intercept is the first session's), ``real_time = real * time``. The persons are the
``subject`` ids of ``qc.parquet`` (role ``therapist`` / ``patient``; without it one
therapist and one patient per dyad), recordings are dyad-sessions, and
``session_number`` is the session number as a factor.

Component <- estimate
    ``intercept`` <- fixed ``(Intercept)``; ``coupling`` <- fixed ``real``;
    ``therapist_sd``, ``patient_sd``, ``session_sd``, ``coupling_sd`` (``real`` by
    dyad), ``slope_sd`` (``real_time`` by dyad), ``residual_sd`` <- the SDs of those
    terms; ``recording_sd`` <- ``sqrt((v_T + v_P) / 2)``, the root mean of the
    therapist- and patient-recording variances (the simulation has one SD for both;
    both are listed). With a single therapist ``therapist_sd`` is not identified (it
    shifts every pairing alike) and keeps its default; the measure's components
    (``measure_dyad_sd``, ``measure_sd``) and ``outcome_effect_sd`` are not in a
    run's results and keep theirs (the outcome effect is standardised, so its power
    does not depend on the measure's scale). The fixed ``time`` (growth shared by
    every pairing, a session-locked confound) and ``real_time`` (the observed
    plasticity) are listed for information: the power simulation plants its own
    effect (``--effect`` / ``--effect-d``), never the observed one (observed power
    says nothing the p-value did not).

Caveats
    Point estimates are plugged in: their uncertainty (large with few dyads; a
    boundary fit gives an SD of exactly 0) is not carried into the power. The
    model has no intercept-slope correlation and the same residual SD for real and
    pseudo pairings, as the simulation.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import OutputError
from .excess import pairing_sessions
from .mixed import lmer
from .pairing_simulation import PairingModel
from .primary import PrimarySettings
from .session_simulation import simulated_time
from .time_codings import SLOPE_TIMES

__all__ = ["RunComponents", "run_components", "pairing_model_from_run",
           "COMPONENT_COLUMNS", "COMPONENT_FORMULA"]

#: Columns of :attr:`RunComponents.table`.
COMPONENT_COLUMNS = ["component", "value", "estimator", "used"]

#: The crossed mixed model the components are estimated by (internal column names).
COMPONENT_FORMULA = ("synchrony ~ time + real + real_time + (1 | therapist) + "
                     "(1 | patient) + (1 | therapist_recording) + (1 | patient_recording) "
                     "+ (1 | session_number) + (0 + real | dyad) + (0 + real_time | dyad)")

_SYNCHRONY_COLUMNS = ["dyad", "partner_dyad", "session", "signal", "pairing", "metric",
                      "value"]


@dataclass
class RunComponents:
    """Variance components of a run (:func:`run_components`).

    Attributes
    ----------
    model : PairingModel
        The components to simulate with.
    table : pandas.DataFrame
        :data:`COMPONENT_COLUMNS`: one row per component (and the two fixed effects
        given for information): its value (synchrony units), how it was estimated and
        whether the simulation uses it.
    results_dir : pathlib.Path
    signal, metric : str
        The synchrony the components describe.
    time : {"linear", "log"}
        Time coding of the estimates (the run's, linear for a quadratic run).
    n_dyads, n_sessions, n_therapists : int
        The run's design (dyads, session numbers and therapists with synchrony).
    scope : str
        The channel pairs averaged (``all pairs`` or the run's primary scope).
    notes : list of str
    fit : LmerResult
        The crossed mixed model.
    """

    model: PairingModel
    table: pd.DataFrame
    results_dir: Path
    signal: str
    metric: str
    time: str
    n_dyads: int
    n_sessions: int
    n_therapists: int
    scope: str
    fit: object = None
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The estimates: :attr:`table`."""
        return self.table

    def summary(self) -> str:
        """What was estimated from what, and the table."""
        head = (f"variance components from {self.results_dir} ({self.signal}, "
                f"{self.metric}, {self.scope}; {self.n_dyads} dyads x {self.n_sessions} "
                f"sessions, {self.n_therapists} therapist(s); time {self.time})")
        how = (f"estimated by {self.fit.method.split(',')[0]} of every real and pseudo "
               f"pairing: {self.fit.formula}" if self.fit is not None else "")
        body = self.table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        return "\n".join([head, how, body, *(f"note: {n}" for n in self.notes),
                          "used = no: listed for information; the power simulation "
                          "plants its own effect (--effect or --effect-d)"])


def _read_parquet(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise OutputError(str(path), "missing: not a finished interbrain run folder (run "
                                     "`interbrain run STUDY --out RESULTS` first)")
    try:
        table = pd.read_parquet(path)
    except Exception as exc:   # pyarrow raises several types for a damaged file
        raise OutputError(str(path), f"cannot be read as Parquet ({type(exc).__name__}: "
                                     f"{exc})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise OutputError(str(path), f"lacks column(s) {missing}; it has "
                                     f"{sorted(map(str, table.columns))}")
    return table


def _read_settings(results: Path) -> dict:
    path = results / "manifest.json"
    if not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8")).get("settings", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise OutputError(str(path), f"cannot be read as JSON ({exc})") from None
    return settings if isinstance(settings, dict) else {}


def _choose(value, given, available: list[str], what: str, path: Path) -> str:
    if given is not None:
        if given not in available:
            raise OutputError(str(path), f"has no {what} {given!r}; it has {available}")
        return given
    if value in available:
        return value
    return available[0]


def _persons(results: Path, dyads) -> tuple[dict, dict, str]:
    """Dyad -> therapist id and dyad -> patient id (``qc.parquet``), with a note."""
    path = results / "qc.parquet"
    ids = {"therapist": {d: f"therapist of {d}" for d in dyads},
           "patient": {d: f"patient of {d}" for d in dyads}}
    if not path.is_file():
        return ids["therapist"], ids["patient"], ("qc.parquet absent: one therapist and "
                                                  "one patient per dyad assumed")
    qc = _read_parquet(path, ["dyad", "role", "subject"])
    for role in ("therapist", "patient"):
        rows = qc[qc["role"] == role].dropna(subset=["subject"])
        first = rows.groupby("dyad")["subject"].first()
        ids[role].update({d: str(first[d]) for d in dyads if d in first.index})
    return ids["therapist"], ids["patient"], ""


def _pairing_frame(pairs: pd.DataFrame, therapist: dict, patient: dict, time: str
                   ) -> pd.DataFrame:
    """The model frame of :data:`COMPONENT_FORMULA` (internal names; ids are data)."""
    real = (pairs["pairing"] == "real").to_numpy(dtype=float)
    x = simulated_time(pairs["session"].to_numpy(dtype=float), time)
    session = pairs["session"].astype(int).astype(str)
    return pd.DataFrame({
        "synchrony": pairs["synchrony"].to_numpy(dtype=float), "time": x, "real": real,
        "real_time": real * x,
        "therapist": pairs["dyad"].map(therapist).to_numpy(),
        "patient": pairs["partner_dyad"].map(patient).to_numpy(),
        "therapist_recording": (pairs["dyad"].astype(str) + "\x1f" + session).to_numpy(),
        "patient_recording": (pairs["partner_dyad"].astype(str) + "\x1f"
                              + session).to_numpy(),
        "session_number": session.to_numpy(), "dyad": pairs["dyad"].astype(str).to_numpy()})


def _component_sds(fit) -> dict[str, float]:
    """SD of each random term of the fit, keyed ``grp`` (first term of a factor) or
    ``grp:var1`` and ``Residual``."""
    out = {}
    for row in fit.variance_components.itertuples():
        grp = str(row.grp).split(".")[0]
        out[f"{grp}:{row.var1}" if grp == "dyad" else grp] = float(row.sdcor)
    return out


def run_components(results_dir, signal: str | None = None, metric: str | None = None
                   ) -> RunComponents:
    """Estimate the :class:`PairingModel` components from a finished run folder.

    Parameters
    ----------
    results_dir : str or pathlib.Path
        The folder ``interbrain run`` wrote (``synchrony.parquet`` with pseudo-dyad
        rows; ``manifest.json`` and ``qc.parquet`` used where present).
    signal, metric : str, optional
        Which synchrony (default: the run's primary signal and metric,
        ``[statistics.primary]``, i.e. the first of ``[analysis]`` signals and
        metrics unless set; without a manifest the first in ``synchrony.parquet``).

    Returns
    -------
    RunComponents

    Raises
    ------
    OutputError
        Naming the file and the problem: a missing or unreadable file, missing
        columns, an unknown signal or metric, no pseudo-dyads, fewer than 3 dyads or
        session numbers, or a model that cannot be fitted.
    """
    results = Path(results_dir)
    if not results.is_dir():
        raise OutputError(str(results), "not a folder (give the results folder of "
                                        "`interbrain run`)")
    settings = _read_settings(results)
    analysis = settings.get("analysis", {}) or {}
    stats = settings.get("statistics", {}) or {}
    primary = stats.get("primary", {}) or {}
    path = results / "synchrony.parquet"
    synchrony = _read_parquet(path, _SYNCHRONY_COLUMNS)
    signals = sorted(map(str, synchrony["signal"].dropna().unique()))
    metrics = sorted(map(str, synchrony["metric"].dropna().unique()))
    if not signals or not metrics:
        raise OutputError(str(path), "has no synchrony rows")
    first = lambda key: (analysis.get(key) or [None])[0]  # noqa: E731
    signal = _choose(primary.get("signal") or first("signals"), signal, signals, "signal",
                     path)
    metric = _choose(primary.get("metric") or first("metrics"), metric, metrics, "metric",
                     path)
    notes = []
    time = stats.get("time", "linear")
    if time not in SLOPE_TIMES:
        notes.append(f"the run's time coding {time!r} has no single slope: components "
                     "estimated with linear time")
        time = "linear"
    scope = PrimarySettings(region=primary.get("region", "") or "",
                            pairs=tuple(primary.get("pairs", []) or ()))
    is_primary = (signal == (primary.get("signal") or first("signals"))
                  and metric == (primary.get("metric") or first("metrics")))
    if is_primary and scope.scope != "all pairs":
        needed = ["region_therapist", "region_patient"] if scope.region else ["pair"]
        missing = [c for c in needed if c not in synchrony.columns]
        if missing:
            raise OutputError(str(path), f"lacks column(s) {missing} of the primary "
                                         f"scope ({scope.scope})")
        synchrony = scope.select(synchrony)
    pairs = pairing_sessions(synchrony, signal, metric)
    pairs = pairs[pairs["pairing"].isin(["real", "pseudo"])
                  & (pairs["session"] == pairs["partner_session"])]
    where = f"signal {signal!r}, metric {metric!r}"
    if not (pairs["pairing"] == "pseudo").any():
        raise OutputError(str(path), f"has no pseudo-dyad rows for {where}: the "
                                     "components need them (run with pseudo_dyads = true)")
    real = pairs[pairs["pairing"] == "real"]
    n_dyads, n_sessions = real["dyad"].nunique(), real["session"].nunique()
    if n_dyads < 3 or n_sessions < 3:
        raise OutputError(str(path), f"has real synchrony of {n_dyads} dyad(s) and "
                                     f"{n_sessions} session number(s) for {where}: the "
                                     "components need at least 3 of each")
    dyads = sorted(set(pairs["dyad"]) | set(pairs["partner_dyad"]))
    therapist, patient, note = _persons(results, dyads)
    notes += [note] if note else []
    frame = _pairing_frame(pairs, therapist, patient, time)
    n_therapists = int(pd.Series(real["dyad"].map(therapist)).nunique())
    formula = COMPONENT_FORMULA
    if n_therapists < 2:
        formula = formula.replace(" + (1 | therapist)", "")
        notes.append("one therapist: therapist_sd is not identified and keeps its default")
    try:
        fit = lmer(formula, frame)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise OutputError(str(path), f"the variance components of {where} cannot be "
                                     f"estimated: {exc}") from None
    if fit.singular:
        notes.append("singular fit: a component estimated at 0 (on the boundary)")
    sds = _component_sds(fit)
    coef = fit.coefficients["estimate"]
    rec_t, rec_p = sds["therapist_recording"], sds["patient_recording"]
    est = {"intercept": float(coef["(Intercept)"]), "coupling": float(coef["real"]),
           "patient_sd": sds["patient"], "recording_sd": math.sqrt((rec_t ** 2 + rec_p ** 2)
                                                                  / 2),
           "coupling_sd": sds["dyad:real"], "slope_sd": sds["dyad:real_time"],
           "session_sd": sds["session_number"], "residual_sd": sds["Residual"]}
    if n_therapists >= 2:
        est["therapist_sd"] = sds["therapist"]
    model = replace(PairingModel(), **est)
    table = _table(est, model, rec_t, rec_p, float(coef["time"]), float(coef["real_time"]),
                   time)
    return RunComponents(model=model, table=table, results_dir=results, signal=signal,
                         metric=metric, time=time, n_dyads=n_dyads, n_sessions=n_sessions,
                         n_therapists=n_therapists,
                         scope=scope.scope if is_primary else "all pairs", fit=fit,
                         notes=notes)


_HOW = {
    "intercept": "fixed (Intercept): pseudo-dyad synchrony at the first session",
    "therapist_sd": "SD of (1 | therapist)",
    "patient_sd": "SD of (1 | patient)",
    "recording_sd": "sqrt of the mean of the two recordings' variances",
    "coupling": "fixed real: real minus pseudo at the first session",
    "coupling_sd": "SD of (0 + real | dyad)",
    "slope_sd": "SD of (0 + real_time | dyad)",
    "session_sd": "SD of (1 | session_number)",
    "residual_sd": "residual SD",
}


def _table(est: dict, model: PairingModel, rec_t: float, rec_p: float, shared: float,
           plasticity: float, time: str) -> pd.DataFrame:
    rows = []
    for f in fields(PairingModel):
        name = f.name
        if name in est:
            rows.append((name, getattr(model, name), _HOW[name], "yes"))
        else:
            why = {"therapist_sd": "not identified with one therapist",
                   "outcome_effect_sd": "an assumption: --outcome-effect-sd"}.get(
                       name, "not in a run's results")
            rows.append((name, getattr(model, name), f"default ({why})", "yes"))
    unit = "per session" if time == "linear" else "per unit of log(session)"
    rows += [("recording_sd (therapist)", rec_t, "SD of (1 | therapist_recording)",
              "pooled"),
             ("recording_sd (patient)", rec_p, "SD of (1 | patient_recording)", "pooled"),
             ("growth of every pairing", shared,
              f"fixed time ({unit}): a session-locked confound", "no"),
             ("plasticity (observed)", plasticity,
              f"fixed real_time ({unit}): growth of the real coupling", "no")]
    return pd.DataFrame(rows, columns=COMPONENT_COLUMNS)


def pairing_model_from_run(results_dir, signal: str | None = None,
                           metric: str | None = None) -> tuple[PairingModel, pd.DataFrame]:
    """The :class:`PairingModel` of a finished run and the table of its estimates.

    See :func:`run_components` (this returns its ``model`` and ``table``).

    Returns
    -------
    model : PairingModel
    table : pandas.DataFrame
        :data:`COMPONENT_COLUMNS`.
    """
    comp = run_components(results_dir, signal, metric)
    return comp.model, comp.table
