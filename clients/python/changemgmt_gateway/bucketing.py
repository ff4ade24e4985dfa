"""Which requests are the N% of a ramp: the bucketing rule of clients/spec/README.md.

bucket(salt, key) = first 8 bytes of SHA-256(utf8(salt + ":" + key)) as a big-endian integer,
modulo 10,000. A request is in a p% slice when its bucket < floor(p * 100).

- deterministic: the same salt and key give the same bucket in every gateway and language;
- sticky as the slice grows: bucket < 100 (1%) implies bucket < 1,000 (10%) and < 5,000 (50%);
- independent between tickets: the salt is the ticket's change ID, so the 1% of one ramp is not
  the 1% of the next;
- uniform: SHA-256 spreads keys evenly (the 2^64 range folded onto 10,000 buckets is biased by
  less than 1e-15).
"""

import hashlib

BUCKETS = 10_000


def bucket(salt: str, key: str) -> int:
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def threshold(percent: float) -> int:
    """The first bucket outside a `percent`% slice (0 for 0%, 10,000 for 100%)."""
    # Rounded first so 0.29 * 100 = 28.999999999999996 counts as 29 buckets.
    return max(0, min(BUCKETS, int(round(percent * 100, 6))))


def in_slice(salt: str, key: str, percent: float) -> bool:
    return bucket(salt, key) < threshold(percent)
