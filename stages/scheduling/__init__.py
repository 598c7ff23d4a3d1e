"""Venues, organizations, course courses and their parts, series, conflicts."""
