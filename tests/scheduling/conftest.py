"""Fixtures shared by the scheduling tests."""
from types import SimpleNamespace

import pytest

from stages.auth.models import Role


@pytest.fixture
def staff(make):
    """Two co-organizing associations, an organizer, a facilitator of each, and a venue of 14
    places (the MJD du 17e)."""
    t = SimpleNamespace()
    t.apcars = make.organization(name="APCARS")
    t.scelles = make.organization(name="Fondation Scelles")
    t.organizer = make.user(Role.ORGANIZER, [t.apcars])
    t.julien = make.user(Role.FACILITATOR, [t.apcars], full_name="Julien Morel")
    t.lea = make.user(Role.FACILITATOR, [t.scelles], full_name="Léa Fabre")
    t.venue = make.venue(name="MJD du 17e", capacity=14)
    return t
