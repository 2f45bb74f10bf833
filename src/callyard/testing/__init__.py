"""Test doubles of outside systems that are real servers speaking the real protocols."""
