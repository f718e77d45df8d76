"""Partition definitions the assets are keyed by."""

import dagster as dg

# One partition per landing file version (file name + content hash), added by the landing
# sensor or `python -m pipelines.batches register`.
batches = dg.DynamicPartitionsDefinition(name="batches")

# One partition per annotation snapshot pulled from Label Studio (its content hash), added
# by the annotation sync sensor or `python -m pipelines.annotation_sync pull`.
annotation_batches = dg.DynamicPartitionsDefinition(name="annotation_batches")
