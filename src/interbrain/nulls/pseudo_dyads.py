"""Real dyads and pseudo-dyads of a study.

A pseudo-dyad pairs the therapist recording of one dyad with the patient recording
of another dyad in the same session number. The two people never interacted in
those recordings, so their synchrony estimates what the method reports for
unrelated signals of the same kind, roles and point in treatment
(e.g. Reindl et al., 2018, NeuroImage 178:493-502).
"""

from __future__ import annotations

from dataclasses import dataclass
from ..study import RecordingRef, Study


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
    """

    dyad: str
    partner_dyad: str
    session: int
    therapist: RecordingRef
    patient: RecordingRef
    align: str = "offset"
    offset: float = 0.0
    event: str | None = None

    @property
    def pairing(self) -> str:
        """``"real"`` or ``"pseudo"``."""
        return "real" if self.dyad == self.partner_dyad else "pseudo"


def real_pairings(study: Study) -> list[Pairing]:
    """The real dyad of every session of ``study``."""
    return [Pairing(s.dyad, s.dyad, s.session, s.therapist, s.patient, s.align, s.offset,
                    s.event) for s in study.sessions]


def pseudo_dyad_pairings(study: Study) -> list[Pairing]:
    """Every pseudo-dyad of ``study``.

    For each session number, the therapist recording of each dyad is paired with the
    patient recording of every other dyad that has that session. When one therapist
    treats several patients, this pairs the same therapist with patients they did
    not see in that recording.

    Returns
    -------
    list of Pairing
        Sorted by session, dyad and partner dyad.
    """
    by_session: dict[int, list] = {}
    for s in study.sessions:
        by_session.setdefault(s.session, []).append(s)
    out = []
    for session in sorted(by_session):
        group = by_session[session]
        for a in group:
            for b in group:
                if a.dyad != b.dyad:
                    out.append(Pairing(a.dyad, b.dyad, session, a.therapist, b.patient))
    return out
