"""Encryption of single fields (a restricted record's text, a quarantined line's raw bytes).

Random nonces, not the deterministic file mode: equal fields must not be recognisable as
equal. The record id is the associated data, so a ciphertext cannot be moved to another
record.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lepton.crypto.keyring import Keyring


class FieldCipher:
    PREFIX = "lepenc1"

    def __init__(self, keyring: Keyring, purpose: str):
        self.key_id, key = keyring.data_key_for(purpose)
        self._aead = AESGCM(key)
        self._keyring = keyring

    def encrypt(self, subject: str, value: str | bytes) -> str:
        data = value.encode() if isinstance(value, str) else value
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, data, subject.encode())
        return f"{self.PREFIX}:{self.key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, subject: str, token: str) -> bytes:
        prefix, key_id, blob = token.split(":", 2)
        if prefix != self.PREFIX:
            raise ValueError(f"{subject}: not an encrypted field")
        aead = self._aead if key_id == self.key_id else AESGCM(self._keyring.unwrap(key_id))
        raw = base64.b64decode(blob)
        try:
            return aead.decrypt(raw[:12], raw[12:], subject.encode())
        except InvalidTag:
            raise ValueError(f"{subject}: encrypted field failed authentication") from None
