"""Speaking GitHub Actions: workflow commands, step outputs and the job summary; installing the action.

Imports nothing from crashfix: any part may use it.
"""
