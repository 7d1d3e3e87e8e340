"""Tests of crash issues."""
