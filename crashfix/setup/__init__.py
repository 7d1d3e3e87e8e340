"""Getting a repository and a host ready: `crashfix init` and `crashfix doctor`.

Sits above the two halves: it may import the uploader (CDB checks), `github` and the foundations.
"""
