"""The HTTP door's rules that need no server: listen checks, Host names, error mapping."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from localforge import errors as e
from localforge.http.errors import Refused, body, problem
from localforge.http.security import _host_name, check_listen, is_loopback
from localforge.settings import HttpSettings


def test_loopback_addresses_and_names() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "localhost", "LOCALHOST", "a.localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "192.0.2.7", "::", "example.org", "127.0.0.1.example.org"):
        assert not is_loopback(host), host


def test_listen_is_refused_off_loopback_unless_remote_is_allowed_with_a_token() -> None:
    assert check_listen(HttpSettings(listen="[::1]:8010")) == ("::1", 8010)
    with pytest.raises(e.StartupError, match="not a loopback address"):
        check_listen(HttpSettings(listen="0.0.0.0:8010"))
    with pytest.raises(e.StartupError, match="needs a bearer token"):
        check_listen(HttpSettings(listen="0.0.0.0:8010", allow_remote=True))
    remote = HttpSettings(listen="0.0.0.0:8010", allow_remote=True, token=SecretStr("t"))
    assert check_listen(remote) == ("0.0.0.0", 8010)


@pytest.mark.parametrize("bad", ["8010", "host:", ":8010", "host:port", "h:70000"])
def test_a_listen_address_must_be_host_and_port(bad: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        HttpSettings(listen=bad)


def test_host_headers_are_compared_by_name() -> None:
    assert _host_name("LocalHost:8010") == "localhost"
    assert _host_name("[::1]:8010") == "::1"
    assert _host_name("127.0.0.1") == "127.0.0.1"


def test_typed_errors_map_to_statuses_and_each_dialects_shape() -> None:
    busy = problem(e.Busy("full; retry in 3s", data={"retry_after_s": 3}))
    assert (busy.status, busy.headers) == (429, {"Retry-After": "3"})
    assert problem(e.NotFound("no model 'x'")).status == 404
    assert problem(e.InvalidParams("bad", data={"param": "messages"})).param == "messages"
    assert problem(e.Unavailable("starting")).headers == {"Retry-After": "1"}
    assert problem(e.WorkerCrashed("SIGSEGV")).status == 502
    assert problem(e.Timeout("slow")).status == 504
    assert problem(Refused(413, "too big")).status == 413
    found = problem(e.NotFound("no model 'x'"))
    assert body(found, "/v1/models")["error"]["type"] == "not_found_error"
    assert body(found, "/api/chat") == {"error": "no model 'x'"}
    assert body(found, "/infill")["error"] == {
        "code": 404,
        "message": "no model 'x'",
        "type": "not_found_error",
    }
