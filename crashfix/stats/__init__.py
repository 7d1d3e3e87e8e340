"""`crashfix stats`: is the loop earning its keep? Figures from what crashfix leaves on GitHub.

May import `issues`, `github` and the foundations; never the uploader or the fixer.
"""
