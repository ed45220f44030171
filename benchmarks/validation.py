#!/usr/bin/env python
"""Each null and control against the confound it is for (issue 16, item 3).

Run by hand (not a test), from the repository root, on one core::

    .venv/bin/python benchmarks/validation.py --studies 16

For every condition (:data:`CONDITIONS`: confounds planted by
:func:`interbrain.simulate.simulate_study` through its ``confounds`` argument, at a
strength, constant or growing over sessions, or none) and every seed, one small
study **without any neural coupling** (``effect=0``) is simulated once and analysed
in each arm by the pipeline's two stages (:func:`interbrain.engine.analyse_synchrony`,
then :func:`interbrain.stats.study_models.fit_models`; the report is not written):

``off``  no control of the body's signals: ``short_channel_regression = false``,
         ``aux_regression = false``, ``motion_correction = "none"``;
``on``   the control of that confound (:data:`CONDITIONS`, field ``control``);
``on+nulls``, ``off+nulls`` the ``on`` (``off``) preprocessing, with surrogates of
         the patient's recording (``surrogates = ["circular_shift"]``, 5 per
         dyad-session) and familiarity pairings (``familiarity = true``) added to the
         pseudo-dyads (:data:`NULLS`); their pseudo-dyad tests are those of ``on``
         (``off``);
``aux+tddr`` (the strong speech confound only) auxiliary regression without
         short-channel regression, the control left to recordings without short
         channels.

Every arm keeps the pseudo-dyad null (it is the comparison of ``real_vs_pseudo`` and
of the plasticity test) and the systemic null (``systemic_null = true``: the
short-separation channels analysed like the long ones, never regressed). Per study
and arm it records the p of ``real_vs_pseudo`` (one-sided dyad-level sign flip, HbO),
of the plasticity test (``p_permutation``: sign flip of the dyads' excess slopes),
of naive growth (the growth model's session slope, not controlled for any null), of
``real_vs_pseudo`` of the short channels (``hbo_short``) and, in ``on+nulls``, of
``real_vs_circular_shift``, ``real_vs_familiarity`` (term ``real - null``) and the
plasticity tests against them (``plasticity:circular_shift``,
``plasticity:familiarity``), with the mean real and pseudo synchrony. Since nothing
neural is planted, every rejection of a long-channel test is a false positive; the
short-channel test rejecting is the systemic null doing its job (it flags coupling
that is in the scalp).

Design (the smallest on which the stronger confounds show, see
``docs/validation.md``): 8 dyads x 4 sessions x 3 min x 4 long channels (field preset:
short channels and auxiliary signals), HbO only, 3 pseudo-dyads per therapist and
session. Strengths are arguments of ``simulate_study`` (``confounds={"speech": 8.0}``,
``{"speech": {"strength": 8.0, "profile": "rising"}}``); ``ground_truth.json``
records them and each session's level.

Writes ``--out`` (default ``benchmarks/results/validation.csv``: one row per
condition, arm and test with the rejection rate at alpha 0.05 and its Wilson 95%
interval) and ``<out stem>_studies.csv`` (every study's values); prints the table, the
command, the machine and the versions. ``--conditions`` and ``--arms`` choose cells
(several runs can be made, one after the other, and their ``*_studies.csv`` combined
into one table with ``--combine``); ``--time N`` only times N studies of each
condition.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from statsmodels.stats.proportion import proportion_confint  # noqa: E402

from interbrain.engine import analyse_synchrony  # noqa: E402
from interbrain.simulate import simulate_study  # noqa: E402
from interbrain.stats.study_models import fit_models  # noqa: E402
from interbrain.study import load_study  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALPHA = 0.05

#: The small design of every simulated study (arguments of simulate_study).
DESIGN = {"n_dyads": 8, "n_sessions": 4, "minutes": 3.0, "n_channels": 4,
          "preset": "field", "effect": 0.0}
#: Pseudo-dyads per therapist and session (a seeded subset of the 7 others).
PSEUDO_PER_DYAD = 3

#: Preprocessing of each arm: ``[preprocessing]`` settings written into study.toml.
ARMS: dict[str, dict[str, str]] = {
    "off": {"short_channel_regression": "false", "aux_regression": "false",
            "motion_correction": '"none"'},
    "short+aux+tddr": {"short_channel_regression": "true", "aux_regression": "true",
                       "motion_correction": '"tddr"'},
    "short+tddr": {"short_channel_regression": "true", "aux_regression": "false",
                   "motion_correction": '"tddr"'},
    "aux+tddr": {"short_channel_regression": "false", "aux_regression": "true",
                 "motion_correction": '"tddr"'},
}

#: The analysis of the arm with the other nulls: ``[analysis]`` settings (the
#: pseudo-dyads are kept; surrogates of the patient's recording and familiarity
#: pairings are added).
NULLS = {"surrogates": '["circular_shift"]', "surrogates_per_session": "5",
         "familiarity": "true"}


@dataclass(frozen=True)
class Condition:
    """One confound plan (or none) and the arm that controls it.

    ``confounds`` is passed to ``simulate_study(confounds=...)`` (name -> strength, or
    name -> dict with ``strength``, ``profile``, ``start_session``).
    """

    name: str
    confounds: dict
    control: str            # key of ARMS: the "on" arm
    what: str
    extra_arms: tuple[str, ...] = ()   # further keys of ARMS analysed (label = key)

    @property
    def arms(self) -> tuple[tuple[str, str], ...]:
        """(label, key of ARMS) of every arm: off, on, off+nulls, on+nulls, then the
        extra ones. ``off+nulls`` and ``on+nulls`` are the ``off`` and ``on``
        preprocessing with the surrogate and familiarity nulls (:data:`NULLS`) added
        to the analysis."""
        return (("off", "off"), ("on", self.control), ("off+nulls", "off"),
                ("on+nulls", self.control), *((key, key) for key in self.extra_arms))


CONDITIONS: tuple[Condition, ...] = (
    Condition("none", {}, "short+aux+tddr",
              "no confound; on = every preprocessing control"),
    Condition("paced_breathing", {"paced_breathing": 1.0}, "short+tddr",
              "session-locked 0.1 Hz pacer in both partners; the control is the "
              "pseudo-dyad null itself (in both arms); on = default preprocessing"),
    Condition("speech", {"speech": 1.0}, "short+aux+tddr",
              "speech-locked systemic changes (simulator strength, 0.25 uM peak); "
              "on = short-channel + auxiliary regression"),
    Condition("speech_x8", {"speech": 8.0}, "short+aux+tddr",
              "speech-locked systemic changes, 8x stronger (2 uM peak); also auxiliary "
              "regression alone (recordings without short channels)",
              extra_arms=("aux+tddr",)),
    Condition("shared_motion", {"shared_motion": 1.0}, "short+tddr",
              "shared motion bursts (simulator rate, 1/min); on = TDDR (+ short-channel "
              "regression)"),
    Condition("shared_motion_x4", {"shared_motion": 4.0}, "short+tddr",
              "shared motion bursts, 4/min"),
    Condition("speech_rising_x8",
              {"speech": {"strength": 8.0, "profile": "rising"}}, "short+aux+tddr",
              "speech-locked systemic changes growing over sessions: 0 in session 1 "
              "to 8x (2 uM peak) in the last; not in pseudo-dyads; on = short-channel "
              "+ auxiliary regression"),
    Condition("breathing_rising_x4",
              {"paced_breathing": {"strength": 4.0, "profile": "rising"}}, "short+tddr",
              "paced breathing growing over sessions: none in session 1 (own "
              "breathing), the 0.1 Hz pacer at breathing gain 4/3 x 3, 8/3 x 3, 4 x 3 in "
              "sessions 2-4; in pseudo-dyads too (the control is the null); on = "
              "default preprocessing"),
)

#: Per-study value -> what it is (a p-value tested at ALPHA).
TESTS = {
    "real_vs_pseudo": "real - pseudo, HbO (one-sided sign flip)",
    "plasticity": "plasticity, HbO (sign-flip p_permutation of excess slopes)",
    "growth": "naive growth of real synchrony, HbO (lmer slope, no null)",
    "systemic_null": "real - pseudo of the short channels, hbo_short (one-sided)",
    "real_vs_circular_shift": "real - circular-shift surrogates, HbO (one-sided sign flip)",
    "real_vs_familiarity": "real - familiarity pairings, HbO (one-sided sign flip)",
    "plasticity_circular_shift": "plasticity against circular shifts, HbO (p_permutation)",
    "plasticity_familiarity": "plasticity against familiarity pairings, HbO "
                              "(p_permutation)",
}
#: TESTS key -> (model, signal, term, p column) of models.parquet.
_ROWS = {"real_vs_pseudo": ("real_vs_pseudo", "hbo", "real - pseudo", "p"),
         "plasticity": ("plasticity", "hbo", "session", "p_permutation"),
         "growth": ("growth", "hbo", "session", "p"),
         "systemic_null": ("real_vs_pseudo", "hbo_short", "real - pseudo", "p"),
         "real_vs_circular_shift": ("real_vs_circular_shift", "hbo", "real - null", "p"),
         "real_vs_familiarity": ("real_vs_familiarity", "hbo", "real - null", "p"),
         "plasticity_circular_shift": ("plasticity:circular_shift", "hbo", "session",
                                       "p_permutation"),
         "plasticity_familiarity": ("plasticity:familiarity", "hbo", "session",
                                    "p_permutation")}


def set_arm(study_dir: Path, base_toml: str, arm: str, nulls: bool = False) -> None:
    """Write study.toml of the study with the arm's preprocessing and the analysis of
    this benchmark (HbO and its short channels, 3 pseudo-dyads, no measures-based
    models; no familiarity pairings and no surrogates unless ``nulls``: then
    :data:`NULLS`)."""
    pre = "".join(f"{k} = {v}\n" for k, v in ARMS[arm].items())
    text = base_toml.replace('motion_correction = "tddr"\n', pre, 1)
    text = text.replace('signals = ["hbo", "hbr"]', 'signals = ["hbo"]', 1)
    analysis = {"systemic_null": "true", "familiarity": "false",
                "pseudo_dyads_per_dyad": str(PSEUDO_PER_DYAD)}
    if nulls:
        analysis.update(NULLS)
    text = text.replace("[analysis]\n", "[analysis]\n" + "".join(
        f"{k} = {v}\n" for k, v in analysis.items()), 1)
    text = re.sub(r"\[statistics\].*?(?=\[regions\])", "", text, count=1, flags=re.S)
    (study_dir / "study.toml").write_text(text, encoding="utf-8")


def _row(models: pd.DataFrame, model: str, signal: str, term: str) -> pd.Series | None:
    rows = models[(models["model"] == model) & (models["signal"] == signal)
                  & (models["term"] == term)]
    return rows.iloc[0] if len(rows) else None


def analyse(study_dir: Path) -> dict[str, float]:
    """Run the pipeline's synchrony and statistics stages on one study; the values
    this benchmark records."""
    study = load_study(study_dir)
    synchrony = analyse_synchrony(study, n_workers=1, scheduler="threads").synchrony
    models = fit_models(study, synchrony).models
    out: dict[str, float] = {}
    for key, (model, signal, term, column) in _ROWS.items():
        row = _row(models, model, signal, term)
        out[f"p_{key}"] = float(row[column]) if row is not None else np.nan
        out[f"estimate_{key}"] = float(row["estimate"]) if row is not None else np.nan
    means = synchrony.groupby(["signal", "pairing"])["value"].mean()
    for signal in ("hbo", "hbo_short"):
        for pairing in ("real", "pseudo"):
            out[f"mean_{pairing}_{signal}"] = float(means.get((signal, pairing), np.nan))
    return out


def run_study_arms(condition: Condition, seed: int, workdir: Path,
                   arms: tuple[str, ...] | None = None) -> list[dict]:
    """Simulate one study of ``condition`` and analyse it in each of its arms (or in
    the arms labelled ``arms``)."""
    folder = workdir / f"{condition.name}_{seed}"
    t0 = time.perf_counter()
    simulate_study(folder, seed=seed, overwrite=True, confounds=condition.confounds,
                   **DESIGN)
    simulated = time.perf_counter() - t0
    (folder / "measures.csv").unlink()
    base = (folder / "study.toml").read_text(encoding="utf-8")
    rows = []
    for arm_kind, arm in condition.arms:
        if arms is not None and arm_kind not in arms:
            continue
        set_arm(folder, base, arm, nulls=arm_kind.endswith("+nulls"))
        t1 = time.perf_counter()
        values = analyse(folder)
        rows.append({"condition": condition.name,
                     "confound": "+".join(condition.confounds) or "none",
                     "confounds": json.dumps(condition.confounds), "arm": arm_kind,
                     "preprocessing": arm, "seed": seed, **values,
                     "seconds": time.perf_counter() - t1 + (simulated if not rows else 0.0)})
    shutil.rmtree(folder, ignore_errors=True)
    return rows


def rate_table(studies: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Rejection rates per condition, arm and test, with Wilson 95% intervals."""
    rows = []
    for (name, arm), g in studies.groupby(["condition", "arm"], sort=False):
        for test, what in TESTS.items():
            p = g[f"p_{test}"].to_numpy(float)
            ok = np.isfinite(p)
            k, n = int((p[ok] < alpha).sum()), int(ok.sum())
            if n == 0:      # not run in this arm
                continue
            lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson") if n \
                else (np.nan, np.nan)
            rows.append({"condition": name, "confound": g["confound"].iloc[0],
                         "confounds": g["confounds"].iloc[0], "arm": arm,
                         "preprocessing": g["preprocessing"].iloc[0], "test": test,
                         "what": what, "alpha": alpha, "n_studies": len(g), "n_tested": n,
                         "rejections": k, "rate": k / n if n else np.nan,
                         "ci_low": float(lo), "ci_high": float(hi),
                         "mean_estimate": float(np.nanmean(g[f"estimate_{test}"])),
                         "sd_estimate": float(np.nanstd(g[f"estimate_{test}"], ddof=1))
                         if n > 1 else np.nan})
    return pd.DataFrame(rows)


def _print_table(table: pd.DataFrame, studies: pd.DataFrame) -> None:
    wide = table.assign(cell=[f"{k}/{n} = {r:.2f} [{lo:.2f}, {hi:.2f}]"
                              for k, n, r, lo, hi in
                              zip(table["rejections"], table["n_tested"], table["rate"],
                                  table["ci_low"], table["ci_high"])])
    wide = wide.pivot_table(index=["condition", "arm", "preprocessing"], columns="test",
                            values="cell", aggfunc="first", sort=False)
    wide = wide[[t for t in TESTS if t in wide.columns]]
    diff = studies.assign(
        d_hbo=studies["mean_real_hbo"] - studies["mean_pseudo_hbo"],
        d_short=studies["mean_real_hbo_short"] - studies["mean_pseudo_hbo_short"]
    ).groupby(["condition", "arm"], sort=False)[["mean_real_hbo", "d_hbo", "d_short"]].mean()
    wide = wide.join(diff.round(4), on=["condition", "arm"])
    with pd.option_context("display.width", 400, "display.max_columns", 30,
                           "display.max_colwidth", 40):
        print(f"\nRejection rates at alpha {ALPHA}: rejections/studies = rate [Wilson 95% "
              "CI]; d_hbo / d_short: mean real minus pseudo synchrony (long / short "
              "channels)")
        print(wide.to_string())
        growth = table[table["test"] == "growth"].set_index(["condition", "arm"])
        print("\nmean naive growth slope of real HbO synchrony per session (sd over "
              "studies):")
        print(growth[["mean_estimate", "sd_estimate"]].round(4).to_string())


def _versions() -> str:
    names = ("interbrain", "numpy", "scipy", "mne", "mne-nirs", "pandas")
    out = []
    for name in names:
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", type=int, default=16, help="studies per condition")
    ap.add_argument("--seed", type=int, default=1000, help="seed of the first study")
    ap.add_argument("--conditions", nargs="*", default=[c.name for c in CONDITIONS],
                    choices=[c.name for c in CONDITIONS])
    ap.add_argument("--arms", nargs="*", default=None,
                    choices=["off", "on", "off+nulls", "on+nulls", "aux+tddr"],
                    help="only these arms (default: every arm of each condition)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/validation.csv")
    ap.add_argument("--time", type=int, default=0, metavar="N",
                    help="only time N studies of each condition")
    ap.add_argument("--combine", nargs="+", type=Path, default=None, metavar="STUDIES",
                    help="no simulation: the rate table of these *_studies.csv files "
                         "(several runs) written to --out")
    args = ap.parse_args(argv)
    if args.combine:
        studies = pd.concat([pd.read_csv(f) for f in args.combine], ignore_index=True)
        table = rate_table(studies)
        table.to_csv(args.out, index=False)
        studies.to_csv(args.out.with_name(args.out.stem + "_studies.csv"), index=False)
        _print_table(table, studies)
        print(f"wrote {args.out} and {args.out.with_name(args.out.stem + '_studies.csv')}")
        return 0
    if args.studies < 1:
        ap.error("--studies must be at least 1")
    warnings.filterwarnings("ignore")
    logging.getLogger("interbrain").setLevel(logging.WARNING)
    logging.getLogger("mne").setLevel(logging.ERROR)
    conditions = [c for c in CONDITIONS if c.name in args.conditions]
    arms = tuple(args.arms) if args.arms else None
    n = args.time or args.studies
    start = time.perf_counter()
    rows: list[dict] = []
    partial = args.out.with_name(args.out.stem + "_studies.partial.csv")
    with tempfile.TemporaryDirectory(prefix="interbrain-validation-") as tmp:
        for i in range(n):
            for condition in conditions:
                rows += run_study_arms(condition, args.seed + i, Path(tmp), arms)
            done = time.perf_counter() - start
            print(f"[{i + 1}/{n}] {done:.0f} s", flush=True)
            if not args.time:   # what is done so far, should the run be stopped
                partial.parent.mkdir(parents=True, exist_ok=True)
                pd.DataFrame(rows).to_csv(partial, index=False)
    studies = pd.DataFrame(rows)
    elapsed = time.perf_counter() - start
    if args.time:
        per = studies.groupby(["condition", "arm"], sort=False)["seconds"].mean()
        print(per.round(1).to_string())
        print(f"{elapsed / n:.0f} s per seed over {len(conditions)} conditions")
        _print_table(rate_table(studies), studies)
        return 0
    table = rate_table(studies)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    studies.to_csv(args.out.with_name(args.out.stem + "_studies.csv"), index=False)
    partial.unlink(missing_ok=True)
    _print_table(table, studies)
    print(f"\ncommand: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; "
          f"{elapsed / 60:.1f} min on 1 core; design {DESIGN}, "
          f"{PSEUDO_PER_DYAD} pseudo-dyads per therapist and session; seeds "
          f"{args.seed}-{args.seed + n - 1}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; {_versions()}")
    print(f"wrote {args.out} and {args.out.with_name(args.out.stem + '_studies.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
