"""Titanium: a cloud-native blog platform."""

__version__ = "0.1.0"
