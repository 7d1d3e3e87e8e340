"""Which crash issues are the uploader's, and the decisions maintainers took on them.

Only issues opened by the uploader's own account count: a `crashfix:signature` marker
in anyone else's issue (anyone can open an issue, labels come with issue forms) is
ignored: never counted on, never edited. A maintainer who closes a crash issue as a
duplicate of #N (`state_reason` duplicate or not planned, with "Duplicate of #N" in a
comment of someone with triage rights or more, or in the body) sends its later crashes
to #N, whose record lists the merged signature; reopening it undoes that. Both are read
back from GitHub, so they survive restarts and lost spools, and a signature algorithm
change is met by also knowing each issue under the id today's analysis gives its
recorded crash.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from crashfix.analysis.analyze import finish
from crashfix.analysis.blame import SkipRules
from crashfix.analysis.grouping import same_crash
from crashfix.analysis.models import Signature
from crashfix.analysis.signature import SIGNATURE_VERSION
from crashfix.config import UploaderSettings
from crashfix.github.records import GitHubAuthError, GitHubError, GitHubNotFound, IssueData
from crashfix.issues.body import SourceLinks, human_text, update_body
from crashfix.issues.record import IssueRecord, MergedSignature, find_signature, parse_record
from crashfix.uploader.issue_map import IssueEntry
from crashfix.uploader.spool import Spool

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI

log = logging.getLogger(__name__)

SYNC_MARGIN = 120.0
MAX_HOPS = 5
TRIAGERS = frozenset({"admin", "maintain", "write", "triage"})
_DUPLICATE_RE = re.compile(r"^\s*duplicate of #(\d+)\b", re.IGNORECASE | re.MULTILINE)
_READ_COMMENTS_FOR = frozenset({"duplicate", "not_planned"})


class IssueIndex:
    def __init__(self, repo: RepoAPI, spool: Spool, settings: UploaderSettings, clock: Callable[[], float],
                 links: SourceLinks, rules: SkipRules) -> None:
        self.repo = repo
        self.spool = spool
        self.map = spool.issue_map
        self.settings = settings
        self.clock = clock
        self.links = links
        self.rules = rules
        self._login = settings.login
        self._roles: dict[str, str] = {}
        self._ignored: set[int] = set()

    # --- whose issue ----------------------------------------------------------------

    @property
    def login(self) -> str:
        """The account this uploader files as: `[uploader] login`, else the token's user."""
        if self._login is None:
            try:
                self._login = self.repo.client.login()
            except GitHubNotFound:
                self._login = ""
            except GitHubAuthError as error:
                if error.status == 401:
                    raise
                self._login = ""
        if not self._login:
            raise GitHubAuthError("cannot tell which account this token files issues as (GitHub refuses GET /user "
                                  "for it)", "set [uploader] login to that account, e.g. my-app[bot]")
        return self._login

    def is_ours(self, issue: IssueData) -> bool:
        return (not issue.is_pull_request and issue.author is not None
                and issue.author.casefold() == self.login.casefold())

    # --- keeping the map current ------------------------------------------------------

    def sync(self) -> None:
        """Look at every issue updated since the last look (all of them after a signature algorithm change)."""
        last = self.spool.get_meta("issues_synced_at")
        if self.spool.get_meta("index_signature_version") != str(SIGNATURE_VERSION):
            last = None
        started = self.clock()
        since = float(last) - SYNC_MARGIN if last else None
        for issue in self.repo.issues(since=since):
            self.see(issue)
        self.spool.set_meta("issues_synced_at", str(started))
        self.spool.set_meta("index_signature_version", str(SIGNATURE_VERSION))

    def see(self, issue: IssueData) -> IssueEntry | None:
        """Enter one issue into the map (or keep it out); notice duplicate closes and reopens."""
        signature = find_signature(issue.body)
        if signature is None:
            return None
        if not self.is_ours(issue):
            self.map.forget(issue.number)
            if issue.number not in self._ignored:
                self._ignored.add(issue.number)
                log.warning("ignoring #%s: it carries a crashfix signature marker but was opened by %s, not by %s",
                            issue.number, issue.author, self.login)
            return None
        previous = self.map.get(issue.number)
        record = parse_record(issue.body)
        duplicate_of = record.duplicate_of if record is not None else None
        if duplicate_of is None and issue.state == "closed":
            duplicate_of = self._maintainer_duplicate(issue, previous)
        self.map.remember(issue.number, signature, issue.state, duplicate_of, checked_at=issue.updated_at)
        if record is not None:
            self._rekey(issue.number, record)
        was = previous.duplicate_of if previous is not None else None
        if was is not None and was != duplicate_of and (record is None or record.duplicate_of is None):
            self._edit_merged(was, issue.number, None)
            log.info("#%s was reopened or is no longer a duplicate of #%s: its crashes are counted on #%s again",
                     issue.number, was, issue.number)
        if duplicate_of is not None and was != duplicate_of and (record is None or record.duplicate_of is None):
            merged = MergedSignature(id=signature, text=record.signature.text if record else "", issue=issue.number)
            self._edit_merged(duplicate_of, issue.number, merged)
            log.info("#%s was closed as a duplicate of #%s: its crashes are counted on #%s from now on",
                     issue.number, duplicate_of, duplicate_of)
        return self.map.get(issue.number)

    def _rekey(self, number: int, record: IssueRecord) -> None:
        """Also know the issue under the id today's analysis gives its recorded crash."""
        try:
            current = finish(record.report.model_copy(deep=True), self.rules).signature
        except Exception as error:  # noqa: BLE001 - an odd old record must not stop filing
            log.debug("cannot re-sign the crash recorded on #%s: %s", number, error)
            return
        if current is not None and current.id != record.signature.id:
            self.map.add_key(current.id, number)
        if current is not None:
            self.map.keep_signature(number, current.model_dump_json())

    def _maintainer_duplicate(self, issue: IssueData, previous: IssueEntry | None) -> int | None:
        """#N when a maintainer closed this issue as a duplicate of crash issue #N."""
        if previous is not None and previous.checked_at is not None and previous.checked_at >= issue.updated_at:
            return previous.duplicate_of
        found = _duplicate_target(human_text(issue.body))
        if found is None and issue.state_reason in _READ_COMMENTS_FOR:
            for comment in reversed(self.repo.comments(issue.number)):
                target = _duplicate_target(comment.body)
                if target is not None and comment.author and self._may_triage(comment.author):
                    found = target
                    break
        if found is None or found == issue.number:
            return None
        try:
            canonical: IssueData | None = self.repo.issue(found)
        except GitHubNotFound:
            canonical = None
        if canonical is None or not self.is_ours(canonical) or find_signature(canonical.body) is None:
            log.warning("#%s is marked a duplicate of #%s, which is not a crash issue crashfix filed: its crashes "
                        "stay counted on #%s", issue.number, found, issue.number)
            return None
        return found

    def _may_triage(self, login: str) -> bool:
        if login.casefold() == self.login.casefold():
            return True
        if login not in self._roles:
            try:
                self._roles[login] = self.repo.permission(login)
            except GitHubError:
                return False
        return self._roles[login] in TRIAGERS

    def _edit_merged(self, target: int, source: int, merged: MergedSignature | None) -> None:
        """List (or stop listing) `source`'s signature on `target`'s record."""
        issue = self.repo.issue(target)
        record = parse_record(issue.body)
        if record is None or not self.is_ours(issue):
            return
        kept = [entry for entry in record.merged if entry.issue != source]
        wanted = kept + ([merged] if merged is not None else [])
        if wanted == record.merged:
            return
        record.merged = wanted
        self.repo.edit_issue(target, body=update_body(issue.body, record, self.links))

    # --- finding ------------------------------------------------------------------------

    def locate(self, signature: str) -> int | None:
        """The issue carrying this signature (an original before a duplicate; the lowest number)."""
        entries = self.map.for_signature(signature)
        originals = [entry.number for entry in entries if entry.duplicate_of is None]
        if originals:
            return originals[0]
        return entries[0].number if entries else None

    def locate_group(self, signature: Signature) -> int | None:
        """The issue of the same crash under another signature id (a report cut short, a name printed
        without its class: `analysis.grouping.same_crash`); remembered, so the next lookup is direct."""
        for number, stored in self.map.grouping_candidates():
            try:
                known = Signature.model_validate_json(stored)
            except ValueError:
                continue
            if known.id != signature.id and same_crash(signature, known):
                self.map.add_key(signature.id, number)
                log.info("%s (%s) is the crash of #%s (%s): counted there", signature.id, signature.text, number,
                         known.text)
                return number
        return None

    def resolve(self, number: int) -> list[IssueData]:
        """Fresh reads from this issue to the one its crashes count on now (last), past duplicate decisions;
        empty when it is not ours or gone. The ones before the last may have counted some crashes already."""
        chain: list[IssueData] = []
        for _ in range(MAX_HOPS):
            try:
                issue = self.repo.issue(number)
            except GitHubNotFound:
                self.map.forget(number)
                return []
            entry = self.see(issue)
            if entry is None:  # not ours, or its marker was removed: not a place to count
                self.map.forget(number)
                return []
            chain.append(issue)
            if entry.duplicate_of is None or any(seen.number == entry.duplicate_of for seen in chain):
                return chain
            number = entry.duplicate_of
        return chain


def _duplicate_target(text: str) -> int | None:
    match = _DUPLICATE_RE.search(text or "")
    return int(match.group(1)) if match else None
