"""Command-line interface: ``interbrain simulate | validate | run | demo | power |
init | stats``.

The top of the layers: a package with one module per command group (:mod:`.simulate`,
:mod:`.validate`, :mod:`.run` with ``demo``, :mod:`.power`, :mod:`.init`,
:mod:`.stats`) and the helpers they share (:mod:`.common`); :func:`main` is the
``interbrain`` group their commands are added to. It imports what its subcommands run
at module level (no lazy imports), so ``interbrain --help`` loads the package too
(about two seconds). ``python -m interbrain.cli`` runs it (:mod:`.__main__`).
"""

from __future__ import annotations

import click

from .. import __version__
# the command modules (names of modules, not of their commands: interbrain.cli.run is
# the module, so that its names can be reached and patched)
from . import init, power, run, simulate, stats, validate

__all__ = ["main"]


@click.group()
@click.version_option(__version__, prog_name="interbrain")
def main() -> None:
    """interbrain: inter-brain synchrony in multi-session fNIRS hyperscanning studies
    of psychotherapy, from raw recordings to a report."""


for _command in (simulate.simulate, validate.validate, run.run, run.demo, power.power,
                 init.init, stats.stats):
    main.add_command(_command)
