"""Partition definitions the assets are keyed by."""

import dagster as dg

# One partition per landing file version (file name + content hash), added by the landing
# sensor or `python -m pipelines.batches register`.
batches = dg.DynamicPartitionsDefinition(name="batches")
