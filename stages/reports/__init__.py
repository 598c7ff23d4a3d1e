"""Liaison dashboard, bilans, exports and statistics."""
