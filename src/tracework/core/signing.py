"""The project's signing key: an Ed25519 key pair that signs what leaves the project for a worker
to keep (their work record), so anyone can check it offline.

The private key lives beside the project secret in ``tracework.signing`` (mode 0600, 64 hex
digits: the key's seed), never in the database. It is made on first use. Its public key is
written ``ed25519:<64 hex digits>`` and may be published anywhere (`tracework record key`).

Signatures are made over the UTF-8 bytes of a value's canonical JSON
(:func:`tracework.core.ledger.canonical`: sorted keys, no spaces, Unicode kept).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing

from tracework.core.errors import ConfigError, InputError
from tracework.core.files import PRIVATE_MODE, keep_private
from tracework.core.ledger import canonical

__all__ = [
    "KEY_FILE",
    "PREFIX",
    "parse_public_key",
    "project_key",
    "public_key_text",
    "sign",
    "signature_valid",
]

KEY_FILE = "tracework.signing"
PREFIX = "ed25519:"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def project_key(root: Path) -> nacl.signing.SigningKey:
    """The project's signing key, made (0600) on first use."""
    path = Path(root) / KEY_FILE
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
        except FileExistsError:
            pass                                  # made meanwhile by another command
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    keep_private(path)
    text = path.read_text(encoding="ascii").strip()
    if not _HEX64.fullmatch(text):
        raise ConfigError(f"{path} does not hold a 64-hex-digit signing key",
                          hint="Restore it from your backup: records signed with the old key "
                               "verify only against the old public key.")
    return nacl.signing.SigningKey(bytes.fromhex(text))


def public_key_text(key: nacl.signing.SigningKey | nacl.signing.VerifyKey) -> str:
    verify = key.verify_key if isinstance(key, nacl.signing.SigningKey) else key
    return PREFIX + bytes(verify).hex()


def parse_public_key(text: str, *, field: str = "--public-key") -> nacl.signing.VerifyKey:
    """A public key written ``ed25519:<hex>`` (the prefix may be left out)."""
    value = text.strip().lower()
    value = value.removeprefix(PREFIX)
    if not _HEX64.fullmatch(value):
        raise InputError(f"{text!r} is not an Ed25519 public key", field=field,
                         hint="Give it as `tracework record key` prints it: ed25519:<64 hex "
                              "digits>.")
    return nacl.signing.VerifyKey(bytes.fromhex(value))


def sign(key: nacl.signing.SigningKey, value: Any) -> str:
    """The base64 Ed25519 signature of ``value``'s canonical JSON."""
    signed = key.sign(canonical(value).encode("utf-8"))
    return base64.b64encode(signed.signature).decode("ascii")


def signature_valid(public: nacl.signing.VerifyKey, value: Any, signature: str) -> bool:
    """Whether ``signature`` (base64) signs ``value``'s canonical JSON under ``public``."""
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
        public.verify(canonical(value).encode("utf-8"), raw)
    except (binascii.Error, ValueError, UnicodeEncodeError, nacl.exceptions.BadSignatureError):
        return False
    return True
