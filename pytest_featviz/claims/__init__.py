"""Claims: the assertions, what they return and what they record."""

from .assertions import assert_not_reaches, assert_reaches, assert_structure, assert_within
from .outcome import ClaimResult, unwrap
from .record import Record, from_json, plain, read_record_file, record_file, to_json

__all__ = ["assert_reaches", "assert_not_reaches", "assert_within", "assert_structure", "ClaimResult", "unwrap",
           "Record", "to_json", "from_json", "record_file", "read_record_file", "plain"]
