"""Incidents (vụ việc), their evidence and exports, and the pages of the three audiences."""
