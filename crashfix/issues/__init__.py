"""What a crash issue looks like on GitHub: its title and body, the hidden record, the fixer's sticky state.

Shared by the uploader (writes them), the fixer (reads them) and stats; imports only the analysis core.
"""
