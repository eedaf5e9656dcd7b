"""dknbench: a declarative benchmark for (degenerate) knowledge neurons in language models.

The package folders follow the pipeline, each importing only the ones before it
(docs/ARCHITECTURE.md): data -> models -> interventions -> scoring -> localization -> dkn ->
stats/metrics -> results -> tasks -> harness -> leaderboard -> reproduce -> cli.
"""

__version__ = "0.1.0"
