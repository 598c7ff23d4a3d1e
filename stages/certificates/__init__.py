"""Attestation PDFs, numbering and public verification."""
