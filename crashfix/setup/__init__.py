"""Getting a repository and a host ready: `init`, `doctor`, `doctor --host`, `login`, `service`, and the
start checks of `watch` and `file`.

Sits above the two halves: it may import the uploader (CDB, its analysis), `github` and the foundations;
the uploader never imports it.
"""
