"""Partition lifecycle: the partition tree, bounds, creation, retention, maintenance."""
