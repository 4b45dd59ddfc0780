"""The query parameters that sign or authenticate a URL: S3 (SigV4, SigV2), GCS, Azure SAS,
OAuth and API keys. Masking (``_translate.masking``) and recording (``testing``) both need them.

>>> is_signing_param("X-Amz-Signature"), is_signing_param("API_KEY"), is_signing_param("page")
(True, True, False)
"""

from __future__ import annotations

SIGNING_PARAMS = (
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "X-Goog-Signature",
    "X-Goog-Credential",
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "key",
    "api_key",
    "apikey",
    "api-key",
    "code",
)
_LOWER = frozenset(p.lower() for p in SIGNING_PARAMS)


def is_signing_param(name: str) -> bool:
    return name.lower() in _LOWER
