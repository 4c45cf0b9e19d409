"""One HTTP client for every Jira call: registered calls only, pooled connections,
time-outs, ``Retry-After`` honoured on 429/503, exponential back-off with jitter."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests
from requests.adapters import HTTPAdapter

from jira.calls import CALLS, JiraCall
from jira.errors import AuthorizationError, PermanentError, TransientError, error_text
from jira.gate import Gate
from jira.meter import CallMeter
from jira.signing import Credentials

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
WAIT_STATUSES = frozenset({429, 503})


def pooled_session(pool_size: int = 20) -> requests.Session:
    """A requests session with a connection pool per host."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class JiraClient:
    """Sends registered calls for one site with one set of credentials."""

    def __init__(
        self,
        credentials: Credentials,
        http: requests.Session | None = None,
        meter: CallMeter | None = None,
        timeout: tuple[float, float] = (3.05, 15.0),
        max_attempts: int = 5,
        max_wait_seconds: float = 60.0,
        gate: Gate | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self.http = http or pooled_session()
        self.meter = meter or CallMeter()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep
        self.gate = gate
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy

    def call(
        self,
        name: str,
        path_params: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        **request_options: Any,
    ) -> requests.Response:
        """Send the registered call ``name``; raise a JiraError subclass on failure."""
        call = CALLS.get(name)
        if call is None:
            raise ValueError(f"{name!r} is not a registered Jira call")
        path = call.render(**{k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
        path_and_query = f"{path}?{urlencode(params, doseq=True)}" if params else path
        waited = 0.0
        renewed = False
        for attempt in range(1, self.max_attempts + 1):
            waited += self._hold_off(call, waited)
            response = self._send(call, path_and_query, json, request_options)
            if response is not None and response.status_code < 300:
                if self.meter.raw is not None:
                    self.meter.raw.keep(call, path, response)
                return response
            if response is not None and response.status_code == 401 and not renewed:
                renewed = True
                if self._renewed(response):
                    continue  # the credentials were renewed: send again at once
            delay = self._delay(response, attempt)
            if response is not None and response.status_code not in RETRY_STATUSES:
                raise self._failure(call, response)
            if attempt == self.max_attempts or waited + delay > self.max_wait_seconds:
                break
            log.info("jira %s: retrying in %.2f s (attempt %d)", call.name, delay, attempt)
            self._sleep(delay)
            waited += delay
        status = response.status_code if response is not None else None
        raise TransientError(
            f"Jira did not answer {call.name} successfully after {attempt} attempts", status, name
        )

    def _hold_off(self, call: JiraCall, waited: float) -> float:
        """Wait out the site's shared Retry-After (another worker may have been told), and
        look again after waiting: a 429 that reached another worker meanwhile moves it."""
        held = 0.0
        while True:
            pause = self.gate.wait_seconds() if self.gate is not None else 0.0
            if pause <= 0:
                return held
            if waited + held + pause > self.max_wait_seconds:
                raise TransientError(f"Jira asked us to wait {pause:.0f} s", 429, call.name)
            self._sleep(pause)
            held += pause

    def _send(
        self, call: JiraCall, path_and_query: str, json: Any, options: dict[str, Any]
    ) -> requests.Response | None:
        headers = {"Accept": "application/json", **options.get("headers", {})}
        headers.update(self.credentials.headers_for(call.method, path_and_query))
        rest = {k: v for k, v in options.items() if k not in ("headers", "allow_redirects")}
        self.meter.count(call.name, call.points)
        try:
            return self.http.request(
                call.method,
                self.credentials.base_url + path_and_query,
                json=json,
                headers=headers,
                timeout=self.timeout,
                # Only attachment downloads follow redirects (Jira sends them to its media
                # service; requests drops our Authorization header on another host).
                allow_redirects=options.get("allow_redirects", False),
                **rest,
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            log.info("jira %s: %s", call.name, type(error).__name__)
            return None

    def _renewed(self, response: requests.Response) -> bool:
        """Ask credentials that can renew themselves (OAuth) to do so after a 401."""
        renew = getattr(self.credentials, "renew", None)
        return bool(renew is not None and renew(response))

    def _delay(self, response: requests.Response | None, attempt: int) -> float:
        """Retry-After when Jira names one (never less), else capped exponential jitter."""
        if response is not None and response.status_code in WAIT_STATUSES:
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            if asked is not None:
                if self.gate is not None:
                    self.gate.hold(asked)
                return asked + self._rng.uniform(0, 0.25)
        return self._rng.uniform(0, min(30.0, 0.5 * 2 ** (attempt - 1)))

    @staticmethod
    def _failure(call: JiraCall, response: requests.Response) -> Exception:
        try:
            detail = error_text(response.json())
        except ValueError:
            detail = ""
        message = f"Jira refused {call.name} ({response.status_code})"
        if detail:
            message += f": {detail}"
        if response.status_code in (401, 403):
            return AuthorizationError(message, response.status_code, call.name)
        return PermanentError(message, response.status_code, call.name)
