"""`singer-bridge oauth`: the authorization-code grant with PKCE, end to end against a local
authorization server built on Authlib (tests/support/oauth_server.py: PKCE S256, per-client
authentication method, rotation with reuse detection); the test plays the person's browser."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from singer_bridge._cli.tools.oauth import provider_settings
from singer_bridge.errors import ConfigError
from singer_bridge.http import HttpClient, OAuth2
from tests.airbyte_check import by_type, validate_output
from tests.support.oauth_server import OAuthTestServer

REPO = Path(__file__).resolve().parent.parent

# a confidential client the provider lets authenticate by client_secret_basic only
CLIENT_ID, CLIENT_SECRET = "basic-client", "basic-secret"


@pytest.fixture
def provider() -> Iterator[OAuthTestServer]:
    with OAuthTestServer(access_ttl=3600) as server:
        yield server


def consent(
    tmp: Path,
    server: OAuthTestServer,
    browser: Any,
    config: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> tuple[int, str, str]:
    """Run the command; ``browser(url)`` does what the person would with the URL shown."""
    (tmp / "oauth.json").write_text(json.dumps({"oauth2": {**server.spec(), **(spec or {})}}))
    if config is None:
        config = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "other": 1}
    (tmp / "config.json").write_text(json.dumps(config))
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
    tmp_path: Path, provider: OAuthTestServer
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


def test_a_redirect_with_a_foreign_state_is_ignored(
    tmp_path: Path, provider: OAuthTestServer
) -> None:
    def attacker_then_person(url: str) -> None:
        redirect = httpx.get(url).headers["location"]
        forged = redirect.split("?")[0] + "?code=stolen&state=guess"
        assert httpx.get(forged).status_code == 400
        httpx.get(redirect)

    code, _, err = consent(tmp_path, provider, attacker_then_person)
    assert code == 0, err
    assert json.loads((tmp_path / "config.json").read_text())["refresh_token"] == provider.issued[0]


def test_a_refusal_is_reported_and_nothing_is_written(
    tmp_path: Path, provider: OAuthTestServer
) -> None:
    provider.deny = True
    code, _, err = consent(tmp_path, provider, lambda url: httpx.get(url, follow_redirects=True))
    assert code == 1
    assert "the provider refused the authorization: access_denied" in err
    assert "refresh_token" not in json.loads((tmp_path / "config.json").read_text())


def person(url: str) -> None:
    httpx.get(url, follow_redirects=True)


@pytest.mark.parametrize(
    ("client_id", "secret", "method"),
    [
        ("basic-client", "basic-secret", None),  # the default: HTTP Basic (RFC 6749 §2.3.1)
        ("post-client", "post-secret", "client_secret_post"),
        ("public-client", None, None),  # no secret: a public client, PKCE alone
    ],
)
def test_the_code_exchange_authenticates_the_client_as_configured(
    tmp_path: Path,
    provider: OAuthTestServer,
    client_id: str,
    secret: str | None,
    method: str | None,
) -> None:
    config: dict[str, Any] = {"client_id": client_id}
    if secret:
        config["client_secret"] = secret
    if method:
        config["token_endpoint_auth_method"] = method
    code, _, err = consent(tmp_path, provider, person, config)
    assert code == 0, err
    assert json.loads((tmp_path / "config.json").read_text())["refresh_token"] == provider.issued[0]


def test_a_client_the_provider_refuses_gets_the_providers_own_words(
    tmp_path: Path, provider: OAuthTestServer
) -> None:
    config = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_endpoint_auth_method": "client_secret_post",  # the provider takes only Basic
    }
    code, out, err = consent(tmp_path, provider, person, config)
    assert code == 1
    assert "invalid_client: The client cannot authenticate" in err
    assert CLIENT_SECRET not in out + err


def test_extra_params_may_not_override_state_pkce_or_the_redirect(
    tmp_path: Path, provider: OAuthTestServer
) -> None:
    for clash in ("state", "code_challenge", "redirect_uri"):
        spec = {"extra_params": {clash: "attacker", "prompt": "consent"}}
        code, _, err = consent(tmp_path, provider, lambda url: None, spec=spec)
        assert code == 1 and f"extra_params may not set {clash}" in err


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


def test_a_refresh_authenticates_the_client_by_basic_by_default(provider: OAuthTestServer) -> None:
    refresh = provider.tokens_for(CLIENT_ID, CLIENT_SECRET)["refresh_token"]
    token_url = provider.url + "/token"
    auth = OAuth2(token_url, CLIENT_ID, CLIENT_SECRET, refresh_token=refresh)
    with HttpClient(auth=auth) as client:
        assert client.send("GET", provider.url + "/api/items").json() == {
            "items": [{"id": 1}, {"id": 2}]
        }
    refused = OAuth2(
        token_url,
        CLIENT_ID,
        CLIENT_SECRET,
        refresh_token=auth.refresh_token,
        client_auth="client_secret_post",
    )
    with HttpClient(auth=refused) as client, pytest.raises(ConfigError) as caught:
        client.send("GET", provider.url + "/api/items")
    assert "HTTP 401 (invalid_client: The client cannot authenticate" in caught.value.message


DOCS_SOURCE = re.compile(r"cat > source_items.py <<'PY'\n(.*?)\nPY\n", re.S)


def test_a_source_written_as_the_docs_show_keeps_a_rotated_refresh_token_across_runs(
    tmp_path: Path,
) -> None:
    (code,) = DOCS_SOURCE.findall((REPO / "docs" / "oauth.md").read_text())
    (tmp_path / "source_items.py").write_text(code)
    with OAuthTestServer(access_ttl=3) as provider:  # rotates, and revokes on reuse
        tokens = provider.tokens_for(CLIENT_ID, CLIENT_SECRET)
        config = {
            "api_url": provider.url,
            "token_url": provider.url + "/token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": tokens["refresh_token"],
        }
        (tmp_path / "config.json").write_text(json.dumps(config))
        for run in ("first", "second"):
            proc = subprocess.run(
                [sys.executable, "source_items.py", "--config", "config.json"],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert proc.returncode == 0, f"{run} run: {proc.stderr}"
            assert proc.stdout.count('"type":"RECORD"') == 2
        stored = json.loads((tmp_path / "config.json").read_text())["refresh_token"]
        assert stored == provider.issued[-1] != tokens["refresh_token"]


def test_under_airbyte_the_docs_source_emits_the_rotated_token_as_a_control_message(
    tmp_path: Path,
) -> None:
    (code,) = DOCS_SOURCE.findall((REPO / "docs" / "oauth.md").read_text())
    (tmp_path / "source_items.py").write_text(code)
    with OAuthTestServer(access_ttl=3) as provider:
        first = provider.tokens_for(CLIENT_ID, CLIENT_SECRET)["refresh_token"]
        config = {
            "api_url": provider.url,
            "token_url": provider.url + "/token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": first,
        }
        (tmp_path / "config.json").write_text(json.dumps(config))
        proc = subprocess.run(
            [sys.executable, "source_items.py", "check", "--config", "config.json"],
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
            check=True,
        )
        messages = validate_output(proc.stdout)
        (control,) = by_type(messages, "CONTROL")
        rotated = control["control"]["connectorConfig"]["config"]["refresh_token"]
        assert rotated == provider.issued[-1] != first
        assert by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]["status"] == (
            "SUCCEEDED"
        )
