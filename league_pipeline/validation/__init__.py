"""Validation: pandera schemas (``schemas/*.yaml``), their custom checks, the failure reports,
and the consistency checks across a quarter's sources.
"""
