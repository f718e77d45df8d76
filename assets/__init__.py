"""Software-defined assets, one module per stage. Thin: each reads its inputs, calls the
core, records lineage and reports metadata."""
