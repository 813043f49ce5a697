"""The browser suite's shared fixtures: one Debian Chromium and one live demo server per module."""
from .test_browser import browser, server  # noqa: F401 - fixtures for every browser test
