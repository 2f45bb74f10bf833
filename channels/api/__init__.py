"""The API channel: integrators' customers on channels Callyard has no adapter for."""
