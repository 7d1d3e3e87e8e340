"""The checkout the fixer works in: the model's jailed file tools, git, and keeping secrets from the build."""
