"""Test infrastructure: a live server, a fake model provider, fault proxies."""
