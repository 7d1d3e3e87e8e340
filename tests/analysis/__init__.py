"""Tests of the analysis core."""
