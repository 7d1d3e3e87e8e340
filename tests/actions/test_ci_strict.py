"""GitHub's CI (.github/workflows/ci.yml) is as strict as `.ci/run` wherever the switches can hold.

`.ci/run` turns every skip for a missing prerequisite into a failure. On GitHub's runners the
OpenAPI description can always be fetched, the build tools are installed on Linux only, and
`../shared` (the crash corpus beside the repository) does not exist: so OpenAPI is required
everywhere, tools on Linux, and the shared tests skip (saying why, `-rs`).
"""

from __future__ import annotations

import re

from tests.actions.helpers import WORKFLOWS
from tests.conftest import ROOT

CI = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_switch_of_ci_run_is_set_in_ci_yml_except_the_shared_corpus() -> None:
    strict = set(re.findall(r"^export (CRASHFIX_REQUIRE_\w+)=1\b", RUN, re.MULTILINE))
    assert strict == {"CRASHFIX_REQUIRE_OPENAPI", "CRASHFIX_REQUIRE_SHARED", "CRASHFIX_REQUIRE_TOOLS"}
    assert re.search(r'^\s+CRASHFIX_REQUIRE_OPENAPI: "1"$', CI, re.MULTILINE)
    assert re.search(r"^\s+CRASHFIX_REQUIRE_TOOLS: \$\{\{ runner.os == 'Linux' && '1' \|\| '0' \}\}$", CI,
                     re.MULTILINE)
    assert "CRASHFIX_REQUIRE_SHARED" not in CI  # no ../shared on GitHub's runners: those tests skip


def test_ci_fetches_the_openapi_description_installs_the_tools_and_prints_skip_reasons() -> None:
    steps = CI.split("      - ")
    fetch = next(index for index, step in enumerate(steps) if "run: .ci/fetch-openapi" in step)
    tests = next(index for index, step in enumerate(steps) if "python -m pytest" in step)
    assert fetch < tests and "python -m pytest -rs" in steps[tests]
    installed = re.search(r"apt-get install -y -qq --no-install-recommends ([\w+ -]+)", CI)
    assert installed is not None
    wanted = set(re.findall(r"need\+=\((\w[\w+]*)\)", RUN)) - {"git", "chromium"}  # both come with the runner
    assert wanted <= set(installed.group(1).split())


def test_ci_run_installs_only_what_the_tools_need_and_stays_quiet() -> None:
    install = re.search(r"apt-get install (.*)", RUN)
    assert install is not None and "--no-install-recommends" in install.group(1) and "-qq" in install.group(1)
    assert re.search(r'>"\$apt_log" 2>&1; then\n\s+cat "\$apt_log"', RUN)  # apt's output only when it fails
