"""PyInstaller entry script: the bundle's executable runs ``qs_gui.app.main`` (same as ``qs-gui``).

A separate file because PyInstaller needs a script path, and ``qs_gui/__main__.py`` uses a
relative import that only works with ``python -m``.
"""

import sys

from qs_gui.app import main

if __name__ == "__main__":
    sys.exit(main())
