"""Tests of the fixer."""
