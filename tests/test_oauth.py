"""`singer-bridge oauth`: the authorization-code grant with PKCE, end to end against a local
authorization server (tests/support/oauth_server.py); the test plays the person's browser."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from singer_bridge._cli.tools.oauth import provider_settings
from singer_bridge.errors import ConfigError
from tests.support.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthServer


@pytest.fixture
def provider() -> Iterator[OAuthServer]:
    server = OAuthServer().start()
    yield server
    server.stop()


def consent(tmp: Path, server: OAuthServer, browser: Any) -> tuple[int, str, str]:
    """Run the command; ``browser(url)`` does what the person would with the URL shown."""
    (tmp / "oauth.json").write_text(json.dumps({"oauth2": server.spec()}))
    (tmp / "config.json").write_text(
        json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "other": 1})
    )
    (tmp / "config.json").chmod(0o644)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "oauth",
            "--spec",
            str(tmp / "oauth.json"),
            "--config",
            str(tmp / "config.json"),
            "--no-browser",
            "--timeout",
            "20",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    shown = [proc.stderr.readline(), proc.stderr.readline()]
    browser(shown[1].strip())
    out, rest = proc.communicate(timeout=60)
    return proc.returncode, out, "".join(shown) + rest


def test_the_consent_flow_writes_the_refresh_token_into_the_config(
    tmp_path: Path, provider: OAuthServer
) -> None:
    seen: list[httpx.Response] = []
    code, out, err = consent(
        tmp_path, provider, lambda url: seen.append(httpx.get(url, follow_redirects=True))
    )
    assert code == 0, err
    assert "Authorized" in seen[0].text  # the page the person sees at the end
    config = json.loads((tmp_path / "config.json").read_text())
    (token,) = provider.issued
    assert config == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "other": 1,
        "refresh_token": token,
    }
    # its mode kept (0644 as written here) but for others' access: it holds a credential now
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o640
    assert f"Wrote refresh_token into '{tmp_path / 'config.json'}' (mode 0640)." in err
    for secret in (token, CLIENT_SECRET, "code="):
        assert secret not in out + err
    assert out == ""


def test_a_redirect_with_a_foreign_state_is_ignored(tmp_path: Path, provider: OAuthServer) -> None:
    def attacker_then_person(url: str) -> None:
        redirect = httpx.get(url).headers["location"]
        forged = redirect.split("?")[0] + "?code=stolen&state=guess"
        assert httpx.get(forged).status_code == 400
        httpx.get(redirect)

    code, _, err = consent(tmp_path, provider, attacker_then_person)
    assert code == 0, err
    assert json.loads((tmp_path / "config.json").read_text())["refresh_token"] == provider.issued[0]


def test_a_refusal_is_reported_and_nothing_is_written(
    tmp_path: Path, provider: OAuthServer
) -> None:
    provider.deny = True
    code, _, err = consent(tmp_path, provider, lambda url: httpx.get(url, follow_redirects=True))
    assert code == 1
    assert "the provider refused the authorization: access_denied" in err
    assert "refresh_token" not in json.loads((tmp_path / "config.json").read_text())


def test_provider_urls_must_be_https_off_the_loopback() -> None:
    with pytest.raises(ConfigError, match="token_url must be https"):
        provider_settings(
            {"authorization_url": "https://p/authorize", "token_url": "http://p.example/token"},
            "oauth.json",
        )
    spec = provider_settings(
        {"spec": {"oauth2": {"authorization_url": "https://p/a", "token_url": "https://p/t"}}}, "s"
    )
    assert spec["token_url"] == "https://p/t"
