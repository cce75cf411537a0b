"""vcrpy cassettes of Discogs API answers: ``build.py`` makes them from real saved bodies, ``record.py``
re-records them live. See README.md in this folder."""
