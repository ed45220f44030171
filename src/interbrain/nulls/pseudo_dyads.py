"""Real dyads and pseudo-dyads of a study.

A pseudo-dyad pairs the therapist recording of one dyad with the patient recording
of another dyad in the same session number. The two people never interacted in
those recordings, so their synchrony estimates what the method reports for
unrelated signals of the same kind, roles and point in treatment
(e.g. Reindl et al., 2018, NeuroImage 178:493-502).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._check import as_generator, check_int
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
        Dyad of the patient recording (equal to ``dyad`` for a real pairing).
    session : int
        Session number of both recordings.
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
        person's recording takes the therapist's place and ``session`` is 0.
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

    @property
    def pairing(self) -> str:
        """``"real"``, ``"pseudo"`` or the pairing's ``kind``."""
        if self.kind is not None:
            return self.kind
        return "real" if self.dyad == self.partner_dyad else "pseudo"


def real_pairings(study: Study) -> list[Pairing]:
    """The real dyad of every session of ``study``."""
    return [Pairing(s.dyad, s.dyad, s.session, s.therapist, s.patient, s.align, s.offset,
                    s.event) for s in study.sessions]


def generalisation_pairings(study: Study) -> list[Pairing]:
    """Each patient with other people before and after treatment (``[[generalisation]]``).

    The other person's recording takes the therapist's place; ``session`` is 0 and the
    pairing's kind ``"other_pre"`` or ``"other_post"``.
    """
    return [Pairing(g.dyad, g.partner, 0, g.other, g.patient, g.align, g.offset, g.event,
                    kind=f"other_{g.phase}") for g in study.generalisation]


def pseudo_dyad_pairings(study: Study, *, max_per_dyad: int | None = None,
                         seed: int = 0) -> list[Pairing]:
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
    out = []
    for session in sorted(by_session):
        group = sorted(by_session[session], key=lambda s: s.dyad)
        for a in group:
            partners = [b for b in group if b.dyad != a.dyad]
            if rng is not None and len(partners) > max_per_dyad:
                keep = np.sort(rng.choice(len(partners), size=max_per_dyad, replace=False))
                partners = [partners[int(k)] for k in keep]
            out.extend(Pairing(a.dyad, b.dyad, session, a.therapist, b.patient)
                       for b in partners)
    return out
