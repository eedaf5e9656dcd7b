"""dknbench: a declarative benchmark for (degenerate) knowledge neurons in language models.

The package folders follow the pipeline:
models -> interventions -> localization -> dkn -> tasks -> metrics/stats -> results -> leaderboard.
"""

__version__ = "0.1.0"
