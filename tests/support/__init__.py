"""Test support shared by every test package: real infrastructure and running services."""
