"""The fixer, on the Actions runner: a crash issue -> located code -> model -> build & test -> draft PR.

`run` is the pipeline; `agent/` is the model loop, `checkout/` the model's hands and git, `verify/` the build.
In the split workflow the fix job leaves a result `bundle`; `deliver_job` (no model client) delivers it.
May import the analysis core, `locate`, `issues`, `github` and the foundations; never the uploader.
"""
