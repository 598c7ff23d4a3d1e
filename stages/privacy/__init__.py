"""Privacy: the audit log of reads and changes, the data subject's export (GDPR art. 15), and the
retention purge. Above every other area: it reads what each of them holds on a person."""
