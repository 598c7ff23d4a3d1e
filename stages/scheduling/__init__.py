"""Venues, organizations, course sessions and their parts, series, conflicts."""
