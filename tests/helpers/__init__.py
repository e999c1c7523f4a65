"""Builders shared by the tests: real, small things made on the fly (no download)."""
