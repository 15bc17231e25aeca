"""Gunicorn's header-handling flags, each shown with raw requests: strict by default
(400, never reaching the app), lenient as Gunicorn is once asked. The leniencies are
applied to every request of a keep-alive connection, whatever framing came before."""

import pytest

from conftest import read_response, run_narwhal


def exchange(server, *requests):
    s = server.connect()
    f = s.makefile("rb")
    out = []
    for raw in requests:
        s.sendall(raw)
        r = read_response(f)
        out.append(None if r is None else (r[0], r[4]))
        if r is None or r[2].get("connection") == "close":
            break
    s.close()
    return out


FOLDED = b"GET /environ/HTTP_LONG HTTP/1.1\r\nHost: x\r\nLong: one\r\n  two\r\n\tthree\r\n\r\n"


def test_obsolete_folding_refused_by_default(serve):
    server = serve("logapp:app")
    assert exchange(server, FOLDED) == [(400, b"")]


def test_permit_obsolete_folding_joins_lines_on_every_request(serve):
    server = serve("logapp:app", "--permit-obsolete-folding")
    chunked = b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n4\r\n\r\n\r\n\r\n0\r\n\r\n"
    sized = b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\nLong: a\r\n b\r\n"
    # Bodies that look like folded heads pass through untouched; the heads after them are unfolded.
    assert exchange(server, FOLDED, chunked, FOLDED, sized, FOLDED) == [
        (200, b"one two three"), (200, b"9"), (200, b"one two three"), (200, b"12"), (200, b"one two three")]


def test_folded_field_counts_whole_against_field_size(serve):
    server = serve("logapp:app", "--permit-obsolete-folding", "--limit-request-field_size", "20")
    assert exchange(server, b"GET /environ/HTTP_A HTTP/1.1\r\nHost: x\r\nA: 1234\r\n 5678\r\n\r\n") == [(200, b"1234 5678")]
    status = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nA: 1234\r\n 5678\r\n 9012\r\n\r\n")[0][0]
    assert status in (400, 431)


def test_fold_cannot_change_framing(serve):
    """Framing it cannot be sure of is handed on untouched, and refused as without the flag."""
    server = serve("logapp:app", "--permit-obsolete-folding")
    both = b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"
    assert exchange(server, both)[0][0] == 400


SPACED = b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nxyz"


def test_space_before_colon_refused_by_default(serve):
    assert exchange(serve("logapp:app"), SPACED) == [(400, b"")]


def test_strip_header_spaces(serve):
    server = serve("logapp:app", "--strip-header-spaces")
    assert exchange(server, SPACED, SPACED) == [(200, b"3"), (200, b"3")]


@pytest.mark.parametrize("method", [b"get", b"Get", b"GE", b"X" * 21, b"M#X"])
def test_unconventional_methods_refused_by_default(serve, method):
    server = serve("logapp:app")
    assert exchange(server, method + b" /environ/REQUEST_METHOD HTTP/1.1\r\nHost: x\r\n\r\n") == [(400, b"")]


def test_permit_unconventional_http_method(serve):
    server = serve("logapp:app", "--permit-unconventional-http-method")
    assert exchange(server, b"get /environ/REQUEST_METHOD HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GE /environ/REQUEST_METHOD HTTP/1.1\r\nHost: x\r\n\r\n") == [(200, b"get"), (200, b"GE")]


def test_casefold_http_method(serve):
    server = serve("logapp:app", "--permit-unconventional-http-method", "--casefold-http-method")
    assert exchange(server, b"purge /environ/REQUEST_METHOD HTTP/1.1\r\nHost: x\r\n\r\n") == [(200, b"PURGE")]


def test_permit_unconventional_http_version_is_refused_with_the_reason():
    r = run_narwhal("--permit-unconventional-http-version", "--check-config", "logapp:app")
    assert r.returncode != 0 and "505" in r.stderr and "permit_unconventional_http_version" in r.stderr
