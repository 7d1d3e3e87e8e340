"""The analysis core: a crash output in any format -> a parsed, blamed, signed `CrashReport`.

Shared by both halves of the loop (the uploader files what it finds, the fixer reads it back).
Imports only crashfix's foundations (`config`, `errors`); the entry point is `analysis.analyze`.
"""
