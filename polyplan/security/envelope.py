"""Application-side envelope encryption and keyed hashes, as `encryption.sql` expects them.

An envelope is `version (1 B) | wrapped data key | nonce (12 B) | AES-256-GCM ciphertext and tag`.
Each value gets a fresh 256-bit data key; the data key is itself sealed with AES-256-GCM under
the key-encryption key (KEK), which lives in a KMS or secret store and never in a database. The
column's name is bound in as associated data, so a ciphertext copied into another column does
not open. Keyed hashes are HMAC-SHA-256 under a second key: equal values give equal hashes (so a
unique rule and an equality lookup work on them), and without the key nobody can test a guess.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from polyplan.security.encryption import ERASED_PREFIX

VERSION = b"\x01"
NONCE = 12
WRAPPED = NONCE + 32 + 16


@dataclass(frozen=True)
class Envelope:
    """Encrypts and hashes column values with keys held by the application."""

    kek: bytes  # key-encryption key, 32 bytes
    hmac_key: bytes  # keyed-hash key, 32 bytes (a different key: one leaked key must not give both)

    @classmethod
    def generate(cls) -> Envelope:
        """Fresh random keys (tests, or a first deployment before the keys go to a KMS)."""
        return cls(AESGCM.generate_key(bit_length=256), os.urandom(32))

    def encrypt(self, value: str, context: str) -> bytes:
        """The envelope of `value` for the column `context` (table.column)."""
        data_key = AESGCM.generate_key(bit_length=256)
        key_nonce, nonce = os.urandom(NONCE), os.urandom(NONCE)
        wrapped = key_nonce + AESGCM(self.kek).encrypt(key_nonce, data_key, context.encode())
        return VERSION + wrapped + nonce + AESGCM(data_key).encrypt(nonce, value.encode("utf-8"), context.encode())

    def decrypt(self, blob: bytes, context: str) -> str:
        """The value sealed in `blob`; raises `cryptography.exceptions.InvalidTag` for a wrong key or column."""
        if blob[:1] != VERSION:
            raise ValueError(f"unknown envelope version {blob[:1]!r}")
        wrapped, rest = blob[1 : 1 + WRAPPED], blob[1 + WRAPPED :]
        data_key = AESGCM(self.kek).decrypt(wrapped[:NONCE], wrapped[NONCE:], context.encode())
        return AESGCM(data_key).decrypt(rest[:NONCE], rest[NONCE:], context.encode()).decode("utf-8")

    def keyed_hash(self, value: str) -> bytes:
        """HMAC-SHA-256 of `value` (32 bytes)."""
        return hmac.new(self.hmac_key, value.encode("utf-8"), hashlib.sha256).digest()


def is_erased(blob: bytes) -> bool:
    """Whether a ciphertext column holds erasure.sql's marker rather than an envelope."""
    return bytes(blob).startswith(ERASED_PREFIX)
