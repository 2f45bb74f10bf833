"""Logging in over real HTTP: CSRF, wrong credentials, pages that need a login, redirects."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import requests

from harness import PASSWORD, WAIT, csrf_token


def fetch_form(url: str) -> tuple[requests.Session, str]:
    http = requests.Session()
    page = http.get(f"{url}/login", timeout=WAIT)
    assert page.status_code == 200
    return http, csrf_token(page.text)


def post_login(http: requests.Session, url: str, data: dict[str, str], query: str = "") -> requests.Response:
    return http.post(f"{url}/login{query}", data=data, timeout=WAIT, allow_redirects=False)


def logged_in(http: requests.Session, url: str) -> bool:
    inbox = http.get(f"{url}/inbox", timeout=WAIT, allow_redirects=False)
    if inbox.status_code == 302:
        assert urlsplit(inbox.headers["Location"]).path == "/login"
        return False
    assert inbox.status_code == 200
    return True


def test_login_refuses_forged_or_wrong_credentials(server):  # noqa: ANN001
    url = server.url
    health = requests.get(f"{url}/healthz", timeout=WAIT)
    assert health.status_code == 200 and health.json()["status"] == "ok"

    # Logged out, the inbox sends you to the login page and back afterwards.
    anonymous = requests.get(f"{url}/inbox", timeout=WAIT, allow_redirects=False)
    assert anonymous.status_code == 302
    assert urlsplit(anonymous.headers["Location"]).path == "/login"

    # No CSRF token (a form on another site posting here), or a made-up one: 400, no session.
    for what, extra in [("no token", {}), ("a made-up token", {"csrf_token": "forged"})]:
        http, _ = fetch_form(url)
        response = post_login(http, url, {"login": "anna", "password": PASSWORD, **extra})
        assert response.status_code == 400, what
        assert not logged_in(http, url), what

    # A token from someone else's session does not fit this one either.
    _, someone_elses = fetch_form(url)
    http, _ = fetch_form(url)
    response = post_login(http, url, {"csrf_token": someone_elses, "login": "anna", "password": PASSWORD})
    assert response.status_code == 400 and not logged_in(http, url)

    # Wrong password and unknown user: 401 with the same message, so logins cannot be probed.
    pages = []
    for login, password in [("anna", "wrong password"), ("nobody", PASSWORD), ("ANNA", "wrong password")]:
        http, token = fetch_form(url)
        response = post_login(http, url, {"csrf_token": token, "login": login, "password": password})
        assert response.status_code == 401, login
        assert "Wrong login or password." in response.text
        assert not logged_in(http, url)
        pages.append(re.findall(r'role="alert">([^<]*)<', response.text))
    assert pages[0] == pages[1] == pages[2] == ["Wrong login or password."]

    # Empty fields: 400, asked to fill them in.
    http, token = fetch_form(url)
    response = post_login(http, url, {"csrf_token": token, "login": "", "password": ""})
    assert response.status_code == 400 and "Fill in both fields" in response.text
    assert not logged_in(http, url)

    # After all that, the right password still works (logins are not case-sensitive).
    http, token = fetch_form(url)
    response = post_login(http, url, {"csrf_token": token, "login": "Anna", "password": PASSWORD})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/inbox"
    cookie = response.headers["Set-Cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain HTTP here; `server.secure_cookies` is for HTTPS
    assert logged_in(http, url)


def landing(url: str, response: requests.Response) -> str:
    """Where a browser goes after this redirect (browsers read a backslash as a slash)."""
    assert response.status_code == 302
    return urljoin(f"{url}/login", response.headers["Location"].replace("\\", "/"))


def test_login_never_redirects_to_another_site(server):  # noqa: ANN001
    url = server.url

    def log_in_with_next(target: str) -> requests.Response:
        http, token = fetch_form(url)
        response = post_login(
            http,
            url,
            {"csrf_token": token, "login": "anna", "password": PASSWORD},
            query="?" + requests.compat.urlencode({"next": target}),
        )
        assert logged_in(http, url)
        return response

    assert landing(url, log_in_with_next("https://evil.example")) == f"{url}/inbox"
    for target in [
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https:evil.example",
        "http://127.0.0.1@evil.example/",
        "javascript:alert(1)",
        " //evil.example",
    ]:
        landed = landing(url, log_in_with_next(target))
        assert urlsplit(landed).netloc == urlsplit(url).netloc, f"next={target!r} sent the agent to {landed}"

    # A `next` on this site is followed.
    http, token = fetch_form(url)
    response = post_login(
        http, url, {"csrf_token": token, "login": "bob", "password": PASSWORD}, query="?next=/inbox%3Ftab%3D2"
    )
    assert response.status_code == 302 and response.headers["Location"] == "/inbox?tab=2"
