"""The uploader, on the game-server host: new crash files -> spool -> analysis -> one issue per crash.

May import the analysis core, `issues`, `github` and the foundations; never the fixer.
"""
