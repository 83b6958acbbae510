"""Secrets at rest (IN2): connection tokens are encrypted with Fernet (the ``cryptography``
package: AES-128-CBC + HMAC-SHA256, authenticated, with key rotation through MultiFernet).

Keys come from ``INTEGRATIONS_FERNET_KEYS`` (comma-separated, newest first). Without it, one key
is derived from SECRET_KEY, so development and tests need no extra setting."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    keys = tuple(getattr(settings, "INTEGRATIONS_FERNET_KEYS", ()) or ())
    if not keys:
        digest = hashlib.sha256(f"closebooks-integrations:{settings.SECRET_KEY}".encode()).digest()
        keys = (base64.urlsafe_b64encode(digest).decode(),)
    return _fernet(keys)


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(value: str) -> str:
    if not value:
        return ""
    try:
        return fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        raise ValueError("A stored secret cannot be decrypted with the configured keys.") from None


class Secret(str):
    """A decrypted secret whose repr never shows it (so it cannot slip into a log or a page)."""

    def __repr__(self) -> str:
        return "Secret('********')" if self else "Secret('')"


class EncryptedTextField(models.TextField):
    """Stores Fernet ciphertext; Python code sees a ``Secret``. Never editable in forms."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        return Secret(decrypt(value)) if value else Secret("")

    def to_python(self, value):
        return value if isinstance(value, Secret) else Secret(value or "")

    def get_prep_value(self, value):
        return encrypt(str(value)) if value else ""
