"""Claims: the assertions and the failure account they give."""

from .assertions import assert_not_reaches, assert_reaches, assert_structure, assert_within

__all__ = ["assert_reaches", "assert_not_reaches", "assert_within", "assert_structure"]
