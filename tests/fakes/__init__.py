"""Local stand-ins for the services crashfix talks to (GitHub, cdb), used by the tests."""
