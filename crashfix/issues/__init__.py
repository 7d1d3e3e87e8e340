"""What a crash issue looks like on GitHub: its title and body, the hidden record (with the builds it crashed
on, the fix under watch and its suspect commits), the fixer's sticky state.

Shared by the uploader (writes them), the fixer (reads them) and stats; imports only the analysis core.
"""
