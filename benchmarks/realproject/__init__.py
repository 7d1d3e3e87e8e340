"""Pieces of `benchmarks/real_project.py`: exporting a past commit, the recipe, the scripted model, scoring."""
