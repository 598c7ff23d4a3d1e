"""Everything held on one participant, for their GDPR right of access (art. 15), as JSON or PDF.

``build_export(participant, measures)`` gathers, in a constant number of queries: identity, each
legal measure with all its fields, each enrollment with its course, its history
(EnrollmentEvents), its attendance marks and their revisions, its attestation and the bilans
that disclosed its outcome to the referring authority (art. 15(1)(c): the recipients), then the
trail of every access to the file (who, when, what). ``export_json`` writes it with stable
English keys; ``export_pdf`` lays the same data out with French labels. Both read the one dict,
so the two formats cannot drift apart.

Left out on purpose: certificate verification codes and PDF hashes (authenticators, not data
about the person) and the IP addresses of staff in the access trail (data about staff).

The package reads in one direction: ``gather`` (the dict, and its JSON) ← ``pdf`` (the same dict
laid out for the person).
"""
from stages.privacy.subject_export.gather import build_export, export_json
from stages.privacy.subject_export.pdf import export_pdf

__all__ = [
    "build_export",
    "export_json",
    "export_pdf",
]
