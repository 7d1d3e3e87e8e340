"""Tests of the action and the workflows."""
