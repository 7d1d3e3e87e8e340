"""crashfix: turn C++ server crashes into GitHub issues and reviewed draft fixes."""

__version__ = "0.1.0"
