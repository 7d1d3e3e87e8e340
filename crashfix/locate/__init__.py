"""From a parsed crash to the source the model should read first: a C++ index of the checkout and a plan.

Used by the fixer (and its benchmarks); imports only the analysis core and the foundations.
"""
