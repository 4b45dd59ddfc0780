"""S3 presigned-URL storage test double: moto's ThreadedMotoServer on 127.0.0.1 + boto3.

    with S3TestServer() as s3:
        url = s3.put_report("reports", "daily/report.jsonl", b'{"a":1}\n', expires_in=60)
        httpx.get(url)  # -> the object

What moto really does with presigned GETs is probed in test_s3_presign.py / NOTES.md:
it serves the object but does NOT verify the query-string signature or expiry, and it
ignores an extra Authorization header. `strict=True` adds a small WSGI guard in front of
moto that re-verifies the SigV4/SigV2 query signature with botocore's own signers and answers
like real S3 does (400 InvalidArgument / 403 SignatureDoesNotMatch / 403 AccessDenied).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import boto3
from botocore.auth import HmacV1QueryAuth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence
from moto.server import ThreadedMotoServer

REGION, KEY_ID, SECRET = "us-east-1", "testing", "testing"


def _s3_error(start_response, status: str, code: str, message: str, extra: str = ""):
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"{extra}<RequestId>PRESIGNGUARD</RequestId></Error>"
    ).encode()
    start_response(
        status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]


class _SigV2At(HmacV1QueryAuth):
    """botocore's SigV2 query signer, pinned to the URL's absolute Expires instead of now+N."""

    def _get_date(self):
        return str(self._expires)


class PresignGuard:
    """WSGI middleware: the presigned-URL checks that moto skips. Only touches requests carrying
    a query signature (SigV4 X-Amz-Signature or SigV2 Signature+AWSAccessKeyId); everything
    else (boto3 SDK calls with an Authorization header) goes straight to moto. Signatures are
    recomputed with botocore's own signers; only the request reconstruction is ours."""

    def __init__(self, app, secret: str = SECRET):
        self.app, self.secret = app, secret

    def __call__(self, environ, start_response):
        q = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        v4, v2 = "X-Amz-Signature" in q, "Signature" in q and "AWSAccessKeyId" in q
        if not (v4 or v2):
            return self.app(environ, start_response)
        if environ.get("HTTP_AUTHORIZATION"):  # real S3 checks this before anything else
            return _s3_error(
                start_response,
                "400 Bad Request",
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
                "<ArgumentName>Authorization</ArgumentName>"
                f"<ArgumentValue>{escape(environ['HTTP_AUTHORIZATION'])}</ArgumentValue>",
            )
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        path = environ.get("RAW_URI", environ.get("PATH_INFO", "")).split("?")[0]  # still %-encoded
        if v4:
            given, expected = q["X-Amz-Signature"], self._sigv4(environ, q, host, path)
            expires_at = dt.datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
                tzinfo=dt.UTC
            ) + dt.timedelta(seconds=int(q["X-Amz-Expires"]))
        else:
            given, expected = q["Signature"], self._sigv2(environ, q, host, path)
            expires_at = dt.datetime.fromtimestamp(int(q["Expires"]), dt.UTC)
        if not hmac.compare_digest(given, expected):
            return _s3_error(
                start_response,
                "403 Forbidden",
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        now = dt.datetime.now(dt.UTC)
        if now > expires_at:
            iso = "%Y-%m-%dT%H:%M:%SZ"
            return _s3_error(
                start_response,
                "403 Forbidden",
                "AccessDenied",
                "Request has expired",
                (f"<X-Amz-Expires>{q['X-Amz-Expires']}</X-Amz-Expires>" if v4 else "")
                + f"<Expires>{expires_at.strftime(iso)}</Expires>"
                + f"<ServerTime>{now.strftime(iso)}</ServerTime>",
            )
        return self.app(environ, start_response)

    @staticmethod
    def _header(environ, name):
        key = name.upper().replace("-", "_")
        return environ.get(
            "HTTP_" + key, environ.get(key)
        )  # CONTENT_TYPE/LENGTH have no HTTP_ prefix

    def _sigv4(self, environ, q, host, path) -> str:
        # Rebuild the request as presigned (all query params but the signature) and let botocore
        # compute canonical request -> string to sign -> signature at the URL's X-Amz-Date.
        access_key, _date, region, _svc, _ = q["X-Amz-Credential"].split("/")
        query = percent_encode_sequence(
            [
                (k, v)
                for k, v in parse_qsl(environ["QUERY_STRING"], keep_blank_values=True)
                if k != "X-Amz-Signature"
            ]
        )  # AWS (RFC 3986) encoding
        headers = {
            h: host if h == "host" else (self._header(environ, h) or "")
            for h in q["X-Amz-SignedHeaders"].split(";")
        }
        req = AWSRequest(
            method=environ["REQUEST_METHOD"], url=f"http://{host}{path}?{query}", headers=headers
        )
        req.context["timestamp"] = q["X-Amz-Date"]
        signer = S3SigV4QueryAuth(
            Credentials(access_key, self.secret), "s3", region, expires=int(q["X-Amz-Expires"])
        )
        return signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)

    def _sigv2(self, environ, q, host, path) -> str:
        headers = HTTPHeaders()
        for name in ("content-type", "content-md5"):
            if self._header(environ, name):
                headers[name] = self._header(environ, name)
        for key, value in environ.items():
            if key.startswith("HTTP_X_AMZ_"):
                headers[key[5:].lower().replace("_", "-")] = value
        split = urlsplit(f"http://{host}{path}?{environ['QUERY_STRING']}")
        return _SigV2At(
            Credentials(q["AWSAccessKeyId"], self.secret), expires=q["Expires"]
        ).get_signature(environ["REQUEST_METHOD"], split, headers)


class S3TestServer:
    def __init__(self, strict: bool = False, port: int = 0, signature_version: str = "s3v4"):
        self.strict, self.signature_version = strict, signature_version
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self):
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        if self.strict:  # wrap moto's WSGI app in place (werkzeug server serves .app)
            self.moto._server.app = PresignGuard(self.moto._server.app)
        self.url = f"http://{host}:{port}"
        self.client = boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(
                signature_version=self.signature_version, s3={"addressing_style": "path"}
            ),
        )
        return self

    def stop(self):
        self.moto.stop()

    __enter__ = start

    def __exit__(self, *a):
        self.stop()

    def put_report(
        self,
        bucket: str,
        key: str,
        body: bytes,
        expires_in: int = 3600,
        content_type: str = "application/x-ndjson",
    ) -> str:
        with contextlib.suppress(self.client.exceptions.BucketAlreadyOwnedByYou):
            self.client.create_bucket(Bucket=bucket)
        self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
        )
