"""interbrain: multi-session fNIRS hyperscanning analysis for psychotherapy studies.

The package is laid out as the pipeline it runs:

``io`` (reading recordings) -> ``preprocessing`` (quality control, optical density,
motion correction, haemoglobin) -> ``synchrony`` (wavelet transform coherence) ->
``nulls`` (pseudo-dyads, surrogates) -> ``stats`` (mixed models) -> ``report`` (tables,
figures, methods text). ``simulate`` writes synthetic studies, ``engine`` runs a
whole study and ``cli`` is the command-line interface.
"""

__version__ = "0.2.0"
