"""Audit: every recomputed layer compared with NHS England's published figures, with a reason
for each disagreement.
"""
