"""The schedule (one registry) and the scheduler process."""
