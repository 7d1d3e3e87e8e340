"""GitHub, behind one door: plain records, one error family, and the only module that imports PyGithub (`api`).

Imports only the foundations.
"""
