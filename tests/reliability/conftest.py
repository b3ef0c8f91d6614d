"""The reliability catalogue's tests (docs/reliability-catalogue.md, `make reliability`).

Fixtures shared by every section live in tests/conftest.py (`database_url`, the Stripe
contract); a section's own fixtures live in its test file.
"""
