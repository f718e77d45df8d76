"""A Merkle root over a dataset's records, so one hash in the manifest (and in lineage)
commits to every record, and a steward can prove a record was or was not in a version."""

from __future__ import annotations

import hashlib


def leaf(record_id: str, record_hmac: str) -> bytes:
    return hashlib.sha256(b"\x00" + record_id.encode() + b"\x00" + bytes.fromhex(record_hmac)).digest()


def merkle_root(leaves: list[bytes]) -> str:
    """Leaves in the caller's (sorted) order; an odd node is carried up unchanged. Domain
    separation (0x00 leaf, 0x01 node) stops a node being passed off as a leaf."""
    if not leaves:
        return hashlib.sha256(b"\x02empty").hexdigest()
    level = leaves
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()
