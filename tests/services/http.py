"""A tiny HTTP client for the real-server tests and the load test: a cookie jar, CSRF tokens,
no redirect following (the tests look at the 302s), loopback addresses only."""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Browser:
    """One user agent: its own cookies (and so its own session), talking to one server."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"{host!r}: this client talks to servers on this machine only")
        self.host = host
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def at(self, port: int) -> Browser:
        """The same cookies (the same session), sent to another server process."""
        other = Browser(self.host, port, self.timeout)
        other.cookies = self.cookies
        return other

    def request(
        self,
        method: str,
        path: str,
        fields: dict[str, object] | list[tuple[str, object]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        sent = {"Host": f"{self.host}:{self.port}", "Connection": "close", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if fields is not None:
            body = urlencode(fields, doseq=True)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if method != "GET" and "csrftoken" in self.cookies:
            sent.setdefault("X-CSRFToken", self.cookies["csrftoken"])
        start = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=sent)
            raw = connection.getresponse()
            content = raw.read()
            elapsed = time.perf_counter() - start
            for header, value in raw.getheaders():
                if header.lower() == "set-cookie":
                    self._remember(value)
            response_headers = {name.lower(): value for name, value in raw.getheaders()}
        finally:
            connection.close()
        return Response(raw.status, response_headers, content, elapsed)

    def _remember(self, header: str) -> None:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            if morsel["max-age"] == "0" or morsel.value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def get(self, path: str, **headers: str) -> Response:
        return self.request("GET", path, headers=headers)

    def post(
        self, path: str, fields: dict[str, object] | list[tuple[str, object]], **headers: str
    ) -> Response:
        return self.request("POST", path, fields, headers)

    def csrf_form_token(self, path: str) -> str:
        """GET a form page and return its CSRF token (this also sets the CSRF cookie)."""
        page = self.get(path)
        found = _CSRF_FIELD.search(page.body)
        if page.status != 200 or found is None:
            raise AssertionError(f"GET {path}: {page.status}, no CSRF token\n{page.text[:500]}")
        return found.group(1).decode()

    def login(self, username: str, password: str, login_path: str = "/accounts/login/") -> None:
        token = self.csrf_form_token(login_path)
        response = self.post(
            login_path,
            {"username": username, "password": password, "csrfmiddlewaretoken": token},
        )
        if response.status != 302 or "sessionid" not in self.cookies:
            raise AssertionError(f"login as {username} failed: {response.status}")
