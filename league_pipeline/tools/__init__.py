"""Maintenance scripts for the repository's reference data (run by developers, not by the pipeline).

Belongs here: small, documented, reproducible builders of files under ``assets/reference``.
"""
