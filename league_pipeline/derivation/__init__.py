"""Derivation: raw NHS statistics -> quarterly metric values.

Belongs here: running the derivation SQL (``assets/sql/derivation``) over the validated raw
releases, the precedence between official, derived and carried values, the reconciliation of
derived against official values, and the inputs of a provisional league table. No Dagster.
"""
