"""Participants, legal measures, enrollments, convocations and the waitlist."""
