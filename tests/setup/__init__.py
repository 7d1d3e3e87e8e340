"""Tests of crashfix init and doctor."""
