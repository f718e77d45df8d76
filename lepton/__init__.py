"""Lepton: the domain core of a governed NER pipeline.

The core is plain Python on purpose: it never imports dagster, so every rule can be
unit-tested and reused from the CLI without an orchestrator.
"""

__version__ = "0.1.0"
