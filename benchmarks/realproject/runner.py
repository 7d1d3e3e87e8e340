"""One benchmark run: prepare the checkout for its kind (cold / warm / fresh), run crashfix, print what happened."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.realproject.export import export, git, reset
from benchmarks.realproject.recipe import Recipe
from benchmarks.realproject.score import equal_to_fix, score
from benchmarks.realproject.script import break_one, file_edits, finish
from crashfix.fixer.job import FixOptions, build_job
from crashfix.fixer.models import FixOutcome
from crashfix.fixer.run import run_fix
from crashfix.fixer.timing import build_folder_line, time_line

SCRIPTED_KEY = "sk-ant-benchmark-0123456789abcdef"


class Bench:
    def __init__(self, mirror: Path, case_dir: Path, case: dict[str, Any], recipe: Recipe, work: Path, jobs: int,
                 overrides: dict[str, Any], real: bool) -> None:
        self.mirror, self.case_dir, self.case, self.recipe = mirror, case_dir, case, recipe
        self.work, self.jobs, self.overrides, self.real = work, jobs, overrides, real
        self.checkout = work / "checkout"
        self.files = list(recipe.fix_files or case.get("fixed_files", []))
        self.config = recipe.config_text(work, jobs, overrides)

    # -- the checkout ---------------------------------------------------------------------------

    def prepare(self, kind: str) -> None:
        build_root = self.work / "build-dir"
        if kind == "cold":
            for folder in (build_root, self.work / "ccache", self.checkout / "build"):
                shutil.rmtree(folder, ignore_errors=True)
        if kind == "warm" and (self.checkout / ".git").is_dir():
            reset(self.checkout)
            return
        origin = f"https://github.com/{self.recipe.repository}.git" if self.recipe.repository else ""
        done = export(self.mirror, self.case["parent_commit"], self.checkout, self.config, origin)
        if kind == "fresh":  # a wiped workspace: every file written now (git archive keeps the commit's time)
            now = time.time()
            for path in self.checkout.rglob("*"):
                if path.is_file() and ".git" not in path.relative_to(self.checkout).parts[:1]:
                    os.utime(path, (now, now))
        if done.placeholders:
            print(f"  export: {len(done.placeholders)} blob(s) missing from the mirror, empty placeholders: "
                  f"{', '.join(done.placeholders[:3])}")

    # -- the model -------------------------------------------------------------------------------

    def scripted_turns(self, feedback: list[str]) -> list[Any]:
        from tests.fakes.anthropic_server import Turn, text, tool_use

        edits = []
        for path in self.files:
            old = git(self.mirror, "show", f"{self.case['parent_commit']}:{path}")
            new = git(self.mirror, "show", f"{self.case['fix_commit']}:{path}")
            edits += file_edits(path, old, new)
        plan = break_one(edits)
        print(f"  scripted: {len(edits)} edit(s) from the developers' diff; round 1 slip: {plan.slip}")
        done = finish(self.case)

        def repair(request: dict[str, Any]) -> Any:
            content = request["messages"][-1]["content"]
            said = [block.get("text", "") for block in content if isinstance(block, dict)] if isinstance(
                content, list) else [str(content)]
            feedback.append("\n".join(said))
            return Turn([text("Fixing the misspelt name."), *(tool_use("edit", e) for e in plan.repair),
                         tool_use("finish", done)])

        give_up = Turn([tool_use("finish", {**done, "status": "cannot_fix",
                                            "root_cause": "(scripted) nothing left to replay"})])
        return [Turn([text("Applying the fix."), *(tool_use("edit", e) for e in plan.first), tool_use("finish", done)]),
                repair, give_up, give_up, give_up]

    # -- one run ---------------------------------------------------------------------------------

    def run(self, kind: str) -> tuple[str, FixOutcome, dict[str, bool]]:
        print(f"\n== run: {kind}")
        self.prepare(kind)
        crash = self.work / "crash.txt"
        crash.write_bytes((self.case_dir / "crash.txt").read_bytes())
        env = {**os.environ, "CRASHFIX_STATE_DIR": str(self.work / "state"), "CCACHE_DIR": str(self.work / "ccache"),
               "CRASHFIX_CACHE_DIR": str(self.work / "cache")}  # the baseline cache: this benchmark's own
        feedback: list[str] = []
        if self.real:
            outcome = self._fix(env, crash)
        else:
            from tests.fakes.anthropic_server import FakeAnthropic

            with FakeAnthropic(api_key=SCRIPTED_KEY) as fake:
                fake.enqueue(*self.scripted_turns(feedback))
                env.update(ANTHROPIC_API_KEY=SCRIPTED_KEY, ANTHROPIC_BASE_URL=fake.url)
                outcome = self._fix(env, crash)
        equal = equal_to_fix(self.checkout, outcome.commit, self.mirror, self.case["fix_commit"], self.files)
        self.show(outcome, feedback, equal)
        return kind, outcome, equal

    def _fix(self, env: dict[str, str], crash: Path) -> FixOutcome:
        job = build_job(FixOptions(checkout=self.checkout, local=True, report=crash), env)
        job.on_event = lambda message: print(f"  · {message[:160]}")
        return run_fix(job)

    def show(self, outcome: FixOutcome, feedback: list[str], equal: dict[str, bool]) -> None:
        print(f"  status: {outcome.status}: {outcome.reason}")
        print(f"  located up front: {', '.join(outcome.located[:4]) or 'none'}")
        print(f"  {build_folder_line(outcome)}")
        if outcome.baseline is not None:
            base = outcome.baseline
            how = "from the cache" if base.cached else f"{base.seconds:.1f} s"
            known = ", ".join(base.preexisting) or "none"
            print(f"  base commit first ({how}): {'builds' if base.built else 'does NOT build'}; "
                  f"failures before any edit (kept from the model): {known}")
        print(f"  verification: {outcome.level_text}"
              + (f" ({outcome.regression.detail})" if outcome.regression else ""))
        for result in outcome.rounds:
            for step in result.steps:
                state = "ok" if step.ok else ("timed out" if step.timed_out else f"exit {step.returncode}")
                shown = " ".join(step.command)[:90]
                if not step.ok and step.passed:
                    state = f"{state}, known"  # failed on the base commit too: not the fix's
                print(f"  round {result.round} {step.phase:5} {step.seconds:7.1f} s  {state:9} {shown}")
            found = [d for s in result.steps for d in s.diagnostics]
            for diagnostic in sorted(found, key=lambda d: d.severity == "warning")[:3]:
                where = f"{diagnostic.path}:{diagnostic.line}"
                print(f"    diagnostic ({len(found)} in all): {diagnostic.severity} {where}: "
                      f"{diagnostic.message[:100]}")
        for said in feedback[:1]:
            lines = [line for line in said.splitlines() if line.strip()]
            print("  fed back to the model (first lines):")
            for line in lines[:6]:
                print(f"    | {line[:150]}")
        print(f"  time: {time_line(outcome)}")
        print(f"  commit: {outcome.commit or 'none'} on {outcome.branch}")
        print(f"  fixed files equal to the developers' fix {self.case['fix_commit'][:12]}: {equal}")
        for line in score(outcome, self.case, equal):  # for the scripted model, a check of the scoring itself
            print(f"  score: {line}")
