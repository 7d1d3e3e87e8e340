"""The uploader, on the game-server host: new crash files -> spool -> analysis -> one issue per crash;
which build crashed and how long each build ran, and whether a merged fix held (the fix watch).

May import the analysis core, `issues`, `github` and the foundations; never the fixer.
"""
