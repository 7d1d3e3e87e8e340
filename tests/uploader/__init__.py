"""Tests of the uploader."""
