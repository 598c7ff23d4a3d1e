"""Sign-in per half-day and rosters."""
