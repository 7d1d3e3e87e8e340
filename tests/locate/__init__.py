"""Tests of the locate step."""
