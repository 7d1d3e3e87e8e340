"""Tests of crashfix stats."""
