"""``python -m interbrain.cli``: the ``interbrain`` command."""

from . import main

if __name__ == "__main__":  # pragma: no cover
    main()
