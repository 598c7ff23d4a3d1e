"""The person's confirmation page: the link every summons carries (``links``), the replies it
records and the organizers' list of them (``replies``). The page's French text is all in
``templates/enrollment/confirmation.html``."""
