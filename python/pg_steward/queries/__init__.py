"""Slow-query capture, grouping by parse-tree fingerprint, and plan analysis."""
