"""The security tests' demo world, shared with the fuzz tests."""

from tests.security.conftest import fast_passwords, world  # noqa: F401 (fixtures)
