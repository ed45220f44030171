"""Real dyads, pseudo-dyads and familiarity pairings of a study.

A pseudo-dyad pairs the therapist recording of one dyad with the patient recording
of another dyad in the same session number. The two people never interacted in
those recordings, so their synchrony estimates what the method reports for
unrelated signals of the same kind, roles and point in treatment
(e.g. Reindl et al., 2018, NeuroImage 178:493-502).

A familiarity pairing pairs the therapist recording of one dyad and session with the
patient recording of the same dyad in another session: the same two people, who did
not interact in those two recordings. Its synchrony is what the method reports for
these two people without their interaction, including whatever changes in each
person over the sessions (see :func:`familiarity_pairings`).

A pseudo-generalisation pairing pairs a patient's ``[[generalisation]]`` recording with
the other person's recording of another patient's entry of the same phase (see
:func:`pseudo_generalisation_pairings`): the null of synchrony with other people.

:func:`all_pairings` gives every pairing the engine computes for a study and
:func:`rate_groups` the groups it computes them in, at one sampling rate each; the
engine and the validation of a study both call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._check import as_generator, check_int, check_option
from ..assembly import Crop, session_crop
from ..design import RecordingRef

if TYPE_CHECKING:  # the null controls read a study's records, never load one
    from ..study import Study


@dataclass(frozen=True)
class Pairing:
    """A therapist recording paired with a patient recording.

    Attributes
    ----------
    dyad : str
        Dyad of the therapist recording.
    partner_dyad : str
        Dyad of the patient recording (equal to ``dyad`` for a real or familiarity
        pairing).
    session : int
        Session number of the therapist recording (of both recordings, unless
        ``partner_session`` says otherwise).
    therapist, patient : RecordingRef
        The two recordings.
    align, offset, event
        How the two are put on one time base (see :mod:`interbrain.assembly`). A
        pseudo-dyad's recordings were not made together: they are aligned on their
        first samples (``align="offset"``, ``offset=0``).
    kind : str, optional
        The pairing's kind when it is neither a real nor a pseudo-dyad: for a patient
        recorded with another person (``[[generalisation]]``), ``"other_pre"`` or
        ``"other_post"``; then ``partner_dyad`` is the other person's id, the other
        person's recording takes the therapist's place and ``session`` is 0. For a
        patient's recording with the other person's recording of another patient's
        entry (:func:`pseudo_generalisation_pairings`), ``"pseudo_other_pre"`` or
        ``"pseudo_other_post"``; then ``partner_dyad`` is that other patient's dyad.
    partner_session : int, optional
        Session number of the patient recording when it differs from ``session``: a
        familiarity pairing (the same dyad's patient in another session, see
        :func:`familiarity_pairings`). None (default): ``session``.
        :attr:`patient_session` gives the effective value.

    Raises
    ------
    ValueError
        A ``partner_session`` other than ``session`` with two different dyads or a
        ``kind`` (such a pairing is none of the kinds the package computes).
    """

    dyad: str
    partner_dyad: str
    session: int
    therapist: RecordingRef
    patient: RecordingRef
    align: str = "offset"
    offset: float = 0.0
    event: str | None = None
    kind: str | None = None
    partner_session: int | None = None
    crop: Crop | None = None

    def __post_init__(self) -> None:
        if self.patient_session != self.session and (self.dyad != self.partner_dyad
                                                     or self.kind is not None):
            raise ValueError(
                f"a pairing across sessions ({self.session} and {self.patient_session}) "
                f"must pair one dyad with itself and have no kind, got dyads "
                f"{self.dyad!r} and {self.partner_dyad!r}, kind {self.kind!r}")

    @property
    def patient_session(self) -> int:
        """Session number of the patient recording: ``partner_session``, or ``session``
        when that is None."""
        return self.session if self.partner_session is None else self.partner_session

    @property
    def pairing(self) -> str:
        """``"real"``, ``"pseudo"``, ``"familiarity"`` or the pairing's ``kind``."""
        if self.kind is not None:
            return self.kind
        if self.patient_session != self.session:
            return "familiarity"
        return "real" if self.dyad == self.partner_dyad else "pseudo"


#: Which dyads' recordings may form a pseudo-dyad (``[statistics] pseudo_dyads_within``):
#: of the same group (``condition``), of the same therapist, or any.
PSEUDO_WITHIN: tuple[str, ...] = ("group", "therapist", "all")


def _random_subset(partners: list, k: int | None, rng: np.random.Generator | None) -> list:
    """``k`` of ``partners`` drawn without replacement, in their order (all of them
    without a generator or when there are no more than ``k``)."""
    if rng is None or len(partners) <= k:
        return partners
    keep = np.sort(rng.choice(len(partners), size=k, replace=False))
    return [partners[int(j)] for j in keep]


def real_pairings(study: Study) -> list[Pairing]:
    """The real dyad of every session of ``study``."""
    return [Pairing(s.dyad, s.dyad, s.session, s.therapist, s.patient, s.align, s.offset,
                    s.event, crop=session_crop(s)) for s in study.sessions]


def generalisation_pairings(study: Study) -> list[Pairing]:
    """Each patient with other people before and after treatment (``[[generalisation]]``).

    The other person's recording takes the therapist's place; ``session`` is 0 and the
    pairing's kind ``"other_pre"`` or ``"other_post"``.
    """
    return [Pairing(g.dyad, g.partner, 0, g.other, g.patient, g.align, g.offset, g.event,
                    kind=f"other_{g.phase}") for g in study.generalisation]


#: Kinds of the pseudo-generalisation pairings (:func:`pseudo_generalisation_pairings`).
PSEUDO_OTHER_KINDS: tuple[str, str] = ("pseudo_other_pre", "pseudo_other_post")


def pseudo_generalisation_pairings(study: Study, *, max_per_recording: int | None = None,
                                   seed: int = 0) -> list[Pairing]:
    """The other people's recordings in the null: pseudo-generalisation pairings.

    For each phase (``"pre"``, ``"post"``), the patient recording of each
    ``[[generalisation]]`` entry of dyad ``i`` is paired with the other person's
    recording of every entry of another dyad ``j`` of the same phase (a different
    patient, who made that recording with that person). The two recordings were not
    made together, so their synchrony is what the method reports for a patient and
    another person of the same phase who did not interact; the pre-to-post change of
    a patient's synchrony with other people can be taken in excess of it (see
    :mod:`interbrain.stats.generalisation_patients`). Like pseudo-dyads they are
    aligned on their first samples (``align="offset"``, ``offset=0``) and cropped to
    their common length.

    Parameters
    ----------
    study : Study
    max_per_recording : int, optional
        Keep at most this many other people's recordings per patient recording (entry);
        None (default) keeps them all.
    seed : int
        Seed of ``numpy.random.default_rng`` for the random subset: one generator
        draws, in the order of the returned entries, the partners of every patient
        recording. Unused when ``max_per_recording`` is None.

    Returns
    -------
    list of Pairing
        Sorted by phase (pre first), then dyad and partner of the patient's entry, then
        dyad and partner of the other person's entry. A pairing's ``dyad`` is the
        patient's dyad ``i``, ``partner_dyad`` the dyad ``j`` whose entry the other
        person's recording comes from (never equal; nor are their patients), the other
        person's recording takes the therapist's place, ``session`` is 0 and the kind
        ``"pseudo_other_pre"`` or ``"pseudo_other_post"``. Where dyad ``i`` or ``j``
        has several entries of one phase (several partners), their pairings share
        ``dyad``, ``partner_dyad`` and kind: draws of one null, pooled.

    Raises
    ------
    ValueError
        ``max_per_recording`` is not a whole number of at least 1.
    """
    if max_per_recording is not None:
        max_per_recording = check_int(
            max_per_recording, "max_per_recording (None: every other recording)",
            minimum=1)
    rng = as_generator(seed) if max_per_recording is not None else None
    patient_of = {d.id: d.patient for d in study.dyads}
    out = []
    for phase, kind in zip(("pre", "post"), PSEUDO_OTHER_KINDS):
        entries = sorted((g for g in study.generalisation if g.phase == phase),
                         key=lambda g: (g.dyad, g.partner))
        for a in entries:
            partners = [b for b in entries if b.dyad != a.dyad
                        and patient_of[b.dyad] != patient_of[a.dyad]]
            partners = _random_subset(partners, max_per_recording, rng)
            out.extend(Pairing(a.dyad, b.dyad, 0, b.other, a.patient, kind=kind)
                       for b in partners)
    return out


def pseudo_group_key(study: Study, within: str):
    """Session -> what its pseudo partners must share: ``"group"``: the condition of
    the session (or of its dyad); ``"therapist"``: the therapist; ``"all"``: nothing."""
    check_option(within, "pseudo_dyads_within", PSEUDO_WITHIN)
    dyads = {d.id: d for d in study.dyads}
    if within == "group":
        return lambda s: s.condition or dyads[s.dyad].condition
    if within == "therapist":
        return lambda s: dyads[s.dyad].therapist
    return lambda s: None


def pseudo_dyad_pairings(study: Study, *, max_per_dyad: int | None = None,
                         seed: int = 0, within: str = "all") -> list[Pairing]:
    """Pseudo-dyads of ``study``: all of them, or a seeded random subset.

    For each session number, the therapist recording of each dyad is paired with the
    patient recording of every other dyad that has that session number (same roles,
    same point in treatment; the recordings are cropped to their common length when
    synchrony is computed, see :mod:`interbrain.synchrony.session`). With ``max_per_dyad``
    only ``k`` of those patient recordings, chosen at random without replacement,
    are kept per therapist recording, which bounds the work at
    ``k x n_dyads x n_sessions`` pairings instead of ``n_dyads**2 x n_sessions``.

    A pseudo-dyad is defined by recordings, not people: when one therapist treats
    several (or every) dyad, a pseudo-dyad pairs that therapist, in the recording of
    one dyad, with the patient of another dyad they also treat, from a different
    recording (another day). The two recordings were still not made together, so
    the pairing is a valid null for interaction-driven synchrony, but it does not
    control for person-specific signal features shared by one therapist's
    recordings; use the surrogates of :mod:`interbrain.nulls.surrogates` for a null
    that keeps both people.

    Parameters
    ----------
    study : Study
    max_per_dyad : int, optional
        Keep at most this many pseudo partners per therapist recording (dyad and
        session); None (default) keeps them all. Where a session number has no
        more than ``max_per_dyad`` other dyads, all of them are kept.
    seed : int
        Seed of ``numpy.random.default_rng`` for the random subset. One generator
        draws the partners of every therapist recording in order of session number
        and dyad id, so the subset depends only on the study's sessions, ``seed``
        and ``max_per_dyad``. Unused when ``max_per_dyad`` is None.
    within : {"all", "group", "therapist"}
        Pair only dyads of the same group (the session's or dyad's ``condition``;
        sessions without one form one group), of the same therapist, or all.

    Returns
    -------
    list of Pairing
        Sorted by session, dyad and partner dyad. A pairing's ``dyad`` is the
        therapist's dyad and ``partner_dyad`` the patient's; never equal.

    Raises
    ------
    ValueError
        ``max_per_dyad`` is not a whole number of at least 1.
    """
    if max_per_dyad is not None:
        max_per_dyad = check_int(max_per_dyad, "max_per_dyad (None: every pseudo-dyad)",
                                 minimum=1)
    rng = as_generator(seed) if max_per_dyad is not None else None
    by_session: dict[int, list] = {}
    for s in study.sessions:
        by_session.setdefault(s.session, []).append(s)
    same = pseudo_group_key(study, within)
    out = []
    for session in sorted(by_session):
        group = sorted(by_session[session], key=lambda s: s.dyad)
        for a in group:
            partners = [b for b in group if b.dyad != a.dyad and same(b) == same(a)]
            partners = _random_subset(partners, max_per_dyad, rng)
            out.extend(Pairing(a.dyad, b.dyad, session, a.therapist, b.patient)
                       for b in partners)
    return out


def familiarity_pairings(study: Study, *, max_per_session: int | None = None,
                         seed: int = 0) -> list[Pairing]:
    """Familiarity pairings of ``study``: each dyad's therapist and patient, recorded
    in different sessions; all of them, or a seeded random subset.

    For each dyad and each ordered pair of its session numbers ``(s, s')`` with
    ``s != s'``, the therapist recording of session ``s`` is paired with the patient
    recording of session ``s'``, aligned on their first samples (``align="offset"``,
    ``offset=0``, as pseudo-dyads; cropped to their common length when synchrony is
    computed). A dyad with ``S`` sessions gives ``S * (S - 1)`` pairings.

    The two people are those of the real dyad, but they did not interact in these
    two recordings, so their synchrony is what the method reports for these two
    people without interaction. Pseudo-dyads (:func:`pseudo_dyad_pairings`; Reindl et
    al., 2018) pair different people; a familiarity pairing keeps the people, and
    with them person-specific signal features and each person's change over the
    sessions (e.g. habituation to the setting and the device). Real synchrony
    exceeding it is therefore not explained by person-level change over the sessions
    alone. Controls that pair the same people across recordings in which they did not
    interact are used alongside pseudo-dyads in hyperscanning studies; this function
    gives the therapist-patient version of such a control.

    Parameters
    ----------
    study : Study
    max_per_session : int, optional
        Keep at most this many partner sessions per therapist recording (dyad and
        session); None (default) keeps them all. Where a dyad has no more than
        ``max_per_session`` other sessions, all of them are kept.
    seed : int
        Seed of ``numpy.random.default_rng`` for the random subset. One generator
        draws the partner sessions of every therapist recording, without
        replacement, in order of session number, then dyad id (the order of
        :func:`pseudo_dyad_pairings`), from the dyad's other session numbers in
        increasing order; so the subset depends only on the study's sessions,
        ``seed`` and ``max_per_session``. Unused when ``max_per_session`` is None.

    Returns
    -------
    list of Pairing
        Sorted by session (the therapist recording's), dyad and partner session
        (:attr:`Pairing.partner_session`, never equal to ``session``); ``dyad ==
        partner_dyad`` and :attr:`Pairing.pairing` is ``"familiarity"``. Empty for a
        dyad with one session.

    Raises
    ------
    ValueError
        ``max_per_session`` is not a whole number of at least 1.

    References
    ----------
    Reindl, V., Gerloff, C., Scharke, W. & Konrad, K. (2018). Brain-to-brain synchrony
    in parent-child dyads and the relationship with emotion regulation revealed by
    fNIRS-based hyperscanning. *NeuroImage* 178:493-502.
    """
    if max_per_session is not None:
        max_per_session = check_int(
            max_per_session, "max_per_session (None: every other session)", minimum=1)
    rng = as_generator(seed) if max_per_session is not None else None
    by_dyad: dict[str, dict[int, object]] = {}
    for s in study.sessions:
        by_dyad.setdefault(s.dyad, {})[s.session] = s
    out = []
    for a in sorted(study.sessions, key=lambda s: (s.session, s.dyad)):
        own = by_dyad[a.dyad]
        partners = [own[k] for k in sorted(own) if k != a.session]
        partners = _random_subset(partners, max_per_session, rng)
        out.extend(Pairing(a.dyad, a.dyad, a.session, a.therapist, b.patient,
                           partner_session=b.session) for b in partners)
    return out


def all_pairings(study: Study) -> list[Pairing]:
    """Every pairing the engine computes for ``study``, as its ``[analysis]`` asks.

    The real pairings, the ``[[generalisation]]`` pairings, the pseudo-dyads (with
    ``pseudo_dyads``; within ``[statistics] pseudo_dyads_within``; at most ``pseudo_dyads_per_dyad`` per therapist recording, 0
    for all), with them the pseudo-generalisation pairings of a study with
    ``[[generalisation]]`` recordings (:func:`pseudo_generalisation_pairings`; at most
    ``pseudo_dyads_per_dyad`` per patient recording) and the familiarity pairings (with ``familiarity``; at most
    ``familiarity_per_session`` partner sessions per therapist recording, 0 for
    all); both subsets are drawn with ``pseudo_dyads_seed``.

    Parameters
    ----------
    study : Study

    Returns
    -------
    list of Pairing
        In that order.
    """
    ana = study.analysis
    pairings = real_pairings(study) + generalisation_pairings(study)
    if ana.pseudo_dyads:
        pairings += pseudo_dyad_pairings(study, max_per_dyad=ana.pseudo_dyads_per_dyad or None,
                                         seed=ana.pseudo_dyads_seed,
                                         within=study.statistics.pseudo_dyads_within)
        if study.generalisation:
            pairings += pseudo_generalisation_pairings(
                study, max_per_recording=ana.pseudo_dyads_per_dyad or None,
                seed=ana.pseudo_dyads_seed)
    if ana.familiarity:
        pairings += familiarity_pairings(
            study, max_per_session=ana.familiarity_per_session or None,
            seed=ana.pseudo_dyads_seed)
    return pairings


def rate_groups(pairings: Sequence[Pairing]) -> dict[tuple[str, int | str], list[Pairing]]:
    """The groups of pairings computed together, each at one common sampling rate.

    ``("session", s)``: the real, pseudo-dyad (and, for ``s = 0``, generalisation and
    pseudo-generalisation) pairings of session number ``s``; ``("familiarity", d)``: the familiarity pairings
    of dyad ``d``, whose recordings are those of its own real pairings. A familiarity
    pairing brings in a patient recording of another session; in groups of their own,
    such recordings never lower the sampling rate (the lowest of the group's
    recordings) at which the real pairings are computed. Grouped by dyad, each
    recording's channel spectra are computed once for all its familiarity pairings.

    Parameters
    ----------
    pairings : sequence of Pairing

    Returns
    -------
    dict
        Group key -> the group's pairings, in the order given; sessions first, keys
        sorted.
    """
    groups: dict[tuple[str, int | str], list[Pairing]] = {}
    for p in pairings:
        key = (("familiarity", p.dyad) if p.pairing == "familiarity"
               else ("session", p.session))
        groups.setdefault(key, []).append(p)
    return dict(sorted(groups.items(), key=lambda item: (item[0][0] != "session", item[0])))
