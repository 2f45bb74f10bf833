"""Callyard: an open-source contact-centre routing engine."""

__version__ = "0.1.0"
