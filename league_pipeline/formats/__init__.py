"""Formats: bytes <-> tables, one module per published file format, readers and writers.

Belongs here: parsing NHS England's layouts (NOF trust data and league tables, ODS, flags, AmbSYS,
A&E, CWT, RTT) and writing them back; ``common`` holds what they share. Whether the data are
*valid* is :mod:`league_pipeline.validation`'s business. See docs/formats.md.
"""
