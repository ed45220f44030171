"""Random streams of a simulated study: one independent generator per purpose.

Every draw of :func:`~interbrain.simulate.simulate_study` comes from
``numpy.random.SeedSequence(seed, spawn_key=key)`` (the child that nested ``spawn()``
calls would give) with a fixed ``key`` per purpose, dyad, session and role, so results
do not depend on the order in which recordings are simulated, and switching one
component of the simulation on or off does not change the draws of the others.
"""

from __future__ import annotations

import numpy as np

from .._check import as_generator

__all__ = ["keyed_rng", "KEY_DYAD", "KEY_SESSION", "KEY_RECORDING", "KEY_PERSON",
           "KEY_THERAPIST", "KEY_LAG", "KEY_CONFOUND", "KEY_SHORT", "KEY_AUX",
           "KEY_GENERALISATION", "KEY_SCANNED", "SUB_COUPLING", "SUB_SHARED",
           "SUB_MEASURES", "PERSON_THERAPIST", "PERSON_PATIENT", "PERSON_OTHER"]

# first element of a key: what the stream is for
KEY_DYAD, KEY_SESSION, KEY_RECORDING, KEY_PERSON = 0, 1, 2, 3
KEY_THERAPIST, KEY_LAG, KEY_CONFOUND, KEY_SHORT, KEY_AUX = 4, 5, 6, 7, 8
KEY_GENERALISATION, KEY_SCANNED = 9, 10
# last element of a (KEY_SESSION, dyad, session, ...) key
SUB_COUPLING, SUB_SHARED, SUB_MEASURES = 0, 1, 2
# person kinds of a KEY_PERSON key
PERSON_THERAPIST, PERSON_PATIENT, PERSON_OTHER = 0, 1, 2


def keyed_rng(seed: int, *key: int) -> np.random.Generator:
    """Independent generator for ``key`` (the child nested ``spawn()`` would give).

    Parameters
    ----------
    seed : int
        The study's seed.
    *key : int
        What the stream is for (purpose, dyad, session, role, ...).

    Returns
    -------
    numpy.random.Generator
        Drawing from ``numpy.random.SeedSequence(seed, spawn_key=key)``.
    """
    return as_generator(np.random.SeedSequence(seed, spawn_key=tuple(key)))
