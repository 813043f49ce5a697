"""Sponsors, household shares, the double-entry ledger and funding reports (xã hội hóa)."""
