"""The ``musicagent`` command, in one package.

- :mod:`.app`: ``main()``, dispatch, exit codes and one-line errors;
- :mod:`.parser`: the argparse tree, built from the generated operation registry;
- :mod:`.output`: JSON, JSON Lines, CSV (through :mod:`musicagent.export`) and tables;
- :mod:`.progress`: the progress line on stderr;
- :mod:`.login`: ``musicagent login`` (the library's OAuth flow, printed as ``.env`` lines);
- :mod:`.mock`: ``musicagent mock`` / ``python -m musicagent.mock`` (the offline server);
- ``musicagent mcp``: a hook in :mod:`.parser` and :mod:`.app`; the server is :mod:`musicagent.mcp`.
"""

from .app import main

__all__ = ["main"]
