"""The ``musicagent`` command, in one package.

- :mod:`.app`: ``main()`` and dispatch;
- :mod:`.errors`: the program name, the exit codes and what each means, one-line error messages;
- :mod:`.parser`: the argparse tree, built from the generated operation registry;
- :mod:`.output`: JSON, JSON Lines, CSV and tables, all through :mod:`musicagent.export`, and the
  ``-o`` check made before any request;
- :mod:`.progress`: the progress line on stderr;
- :mod:`.login`: ``musicagent login`` (the library's OAuth flow, printed as ``.env`` lines);
- :mod:`.mock`: ``musicagent mock`` / ``python -m musicagent.mock`` (the offline server);
- ``musicagent mcp``: a hook in :mod:`.parser` and :mod:`.app`; the server is :mod:`musicagent.mcp`.
"""

from .app import main

__all__ = ["main"]
