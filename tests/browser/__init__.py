"""Journeys in a real browser: headless Chromium from the machine's packages, with axe-core."""
