"""The channel pairs of two recordings whose channels are both good
(:func:`channel_pairs`): homologous channels or every combination."""

from __future__ import annotations

from ..errors import RecordingError
from ..preprocessing import Preprocessed

__all__ = ["channel_pairs"]


def channel_pairs(therapist: Preprocessed, patient: Preprocessed, pairs: str
                  ) -> list[tuple[int, int, str]]:
    """Channel pairs of two recordings, both channels good.

    Parameters
    ----------
    therapist, patient : Preprocessed
    pairs : str
        ``"homologous"``: channels of the same name; ``"all"``: every combination.

    Returns
    -------
    list of (int, int, str)
        Therapist channel index, patient channel index, pair label.
    """
    bad_t, bad_p = therapist.bad_channels, patient.bad_channels
    if pairs == "homologous":
        index = {c: j for j, c in enumerate(patient.channels)}
        only_t = [c for c in therapist.channels if c not in index]
        names_t = set(therapist.channels)
        only_p = [c for c in patient.channels if c not in names_t]
        if only_t or only_p:
            raise RecordingError(
                f"{therapist.source} and {patient.source}: channel names differ between the "
                f"partners, so homologous pairs are ambiguous (only in the first: "
                f"{', '.join(only_t[:6]) or 'none'}; only in the second: "
                f"{', '.join(only_p[:6]) or 'none'}); use pairs = \"all\" or a one-file "
                "channel-to-role map")
        return [(i, index[c], c) for i, c in enumerate(therapist.channels)
                if c not in bad_t and c not in bad_p]
    return [(i, j, f"{ct}-{cp}") for i, ct in enumerate(therapist.channels) if ct not in bad_t
            for j, cp in enumerate(patient.channels) if cp not in bad_p]
