"""SMS to the people summoned: their consent, the convocation and reminders by SMS beside the
email (through the same outbox), the gateway's receipts and « STOP » replies.

The package reads in one direction: ``models`` (consents, and each SMS sent with its gateway
status) ← ``texts`` (what each SMS says, in French) ← ``services`` (consent, queueing, building
and recording, receipts and replies). The gateway itself is the core's (``stages.sms``).
"""
