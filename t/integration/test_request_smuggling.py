"""Answers the module gives without reading the request body must not leave that body on a
keep-alive connection: nginx would parse it as the next request, and a body that is itself a
complete request would reach the upstream (request smuggling behind a front proxy that reuses
its backend connections).

Every case sends, on one connection, a request whose body is a complete `GET /public/...`
request with a path of its own, in three framings: an exact Content-Length followed by a
probe request, a chunked body followed by the probe, and a Content-Length larger than what is
sent. The upstream must never see the smuggled path, no answer to it may come back, and the
connection must carry exactly the module's answer (and the probe's, when the answer keeps the
connection open) before nginx closes it.
"""
import socket
import unittest
import uuid

from t.integration.harness import StackTest

LOCATIONS = """
        location /sso/ {
            sso_endpoint;
            error_page 405 /sso/no-such-action;
        }
        location /app/ {
            sso on;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /restricted/ {
            sso on;
            sso_require group nobody-is-in-this-group;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /public/ {
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location = /sso-status { sso_status; }
        location = /metrics { sso_metrics; }
        location = /sso-auth { sso_auth_request; }
        location = /_auth { internal; sso_auth_request; }
        location /guarded/ {
            auth_request /_auth;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""

# The ACS and SLO refuse a Content-Length over 16384 / 3 * 4 + 8192 = 30036 bytes (a real
# login still fits).
SERVER_EXTRA = """
        sso_max_response_size 16k;
        lingering_timeout 1s;
"""
OVERSIZE = 32000
# What the reading side waits at most for nginx's next bytes; nginx closes long before.
SOCKET_TIMEOUT = 30.0

BROWSER_ACCEPT = "text/html,application/xhtml+xml"
FORM = "application/x-www-form-urlencoded"

# name: (method, path, extra headers, expected status, connection closed after the answer)
# The ACS and SLO read a chunked body (no Content-Length to refuse it by), then reject it.
CASES = {
    "acs_oversize_413": ("POST", "/sso/acs", {"Content-Type": FORM}, 413, True),
    "acs_not_a_form_415": ("POST", "/sso/acs", {"Content-Type": "application/json"}, 415, False),
    "slo_oversize_413": ("POST", "/sso/slo", {}, 413, True),
    "ldap_without_directory_404": ("POST", "/sso/ldap", {}, 404, False),
    "unknown_endpoint_action_404": ("POST", "/sso/no-such-action", {}, 404, False),
    "metadata_get_with_body_200": ("GET", "/sso/metadata", {}, 200, False),
    "acs_get_with_body_405": ("GET", "/sso/acs", {}, 405, False),
    "protected_post_without_session_401": ("POST", "/app/page", {}, 401, False),
    "protected_get_without_session_302": ("GET", "/app/page", {"Accept": BROWSER_ACCEPT}, 302, False),
    "protected_get_json_without_session_401": ("GET", "/app/page", {"Accept": "application/json"}, 401, False),
    "protected_denied_by_sso_require_403": ("GET", "/restricted/page", {"Cookie": "@SESSION@"}, 403, False),
    "auth_request_endpoint_get_401": ("GET", "/sso-auth", {}, 401, False),
    "auth_request_endpoint_post_401": ("POST", "/sso-auth", {}, 401, False),
    "auth_request_gate_post_401": ("POST", "/guarded/page", {}, 401, False),
    "sso_status_get_200": ("GET", "/sso-status", {}, 200, False),
    "sso_status_post_405": ("POST", "/sso-status", {}, 405, False),
    "sso_metrics_get_200": ("GET", "/metrics", {}, 200, False),
    "sso_metrics_post_405": ("POST", "/metrics", {}, 405, False),
    "logout_post_200": ("POST", "/sso/logout", {}, 200, False),
    "logout_get_redirect_303": ("GET", "/sso/logout?return_to=/public/", {}, 303, False),
    "login_error_page_400": ("GET", "/sso/login?return_to=//evil.example/", {}, 400, False),
    # The endpoint's 405 through nginx's error_page in /sso/: an internal redirect to the
    # endpoint's own "Not found" page, sent with the 405
    "error_page_redirect_to_module_page_405": ("PUT", "/sso/metadata", {}, 405, False),
}
CHUNKED_STATUS = {"acs_oversize_413": 400, "slo_oversize_413": 400}

FRAMINGS = ("content_length", "chunked", "overlong_content_length")


def parse_responses(data):
    """The HTTP/1.1 responses in `data`, in order: (status, {lowercase header: value}, body).
    A response without a length runs to the end; a truncated one is returned as far as it goes."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            out.append((None, {}, data))
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            data = rest
            continue
        if "content-length" in headers:
            n = int(headers["content-length"])
            body, data = rest[:n], rest[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    _, _, rest = rest.partition(b"\r\n")
                    break
                body += rest[:size]
                rest = rest[size + 2:]
            data = rest
        else:
            body, data = rest, b""
        out.append((status, headers, body))
    return out


class RequestSmugglingTest(StackTest):
    STACK_ARGS = {"locations": LOCATIONS, "server_extra": SERVER_EXTRA}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A session whose user sso_require turns away, for the 403 page.
        cls.session, _ = cls.stack.login(user="alice")

    def exchange(self, case, framing):
        method, path, headers, status, closes = CASES[case]
        if framing == "chunked":
            status = CHUNKED_STATUS.get(case, status)
            closes = False
        marker = uuid.uuid4().hex
        smuggled_path = "/public/smuggled-" + marker
        probe_path = "/public/probe-" + marker
        smuggled = ("GET %s HTTP/1.1\r\nHost: localhost\r\nX-Smuggled: %s\r\nConnection: close\r\n\r\n"
                    % (smuggled_path, marker)).encode()
        probe = ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % probe_path).encode()
        oversize = case.endswith("_oversize_413")

        head = ["%s %s HTTP/1.1" % (method, path), "Host: localhost", "Connection: keep-alive"]
        for k, v in headers.items():
            head.append("%s: %s" % (k, v.replace("@SESSION@", self.session)))
        send_probe = not closes
        if framing == "content_length":
            body = smuggled + (b"x" * (OVERSIZE - len(smuggled)) if oversize else b"")
            head.append("Content-Length: %d" % len(body))
        elif framing == "chunked":
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
            head.append("Transfer-Encoding: chunked")
        else:
            # More declared than sent: what follows would be read as body, so no probe.
            body = smuggled
            head.append("Content-Length: %d" % (max(OVERSIZE, len(smuggled) + 1000)))
            send_probe = False
        wire = ("\r\n".join(head) + "\r\n\r\n").encode() + body + (probe if send_probe else b"")

        data = b""
        closed = False
        with socket.create_connection(("127.0.0.1", self.stack.port), timeout=SOCKET_TIMEOUT) as sock:
            sock.sendall(wire)
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        closed = True
                        break
                    data += chunk
            except ConnectionResetError:
                closed = True
            except socket.timeout:
                pass
        return parse_responses(data), closed, status, closes, send_probe, smuggled_path, probe_path, marker

    def check(self, case, framing):
        s = self.stack
        responses, closed, status, closes, sent_probe, smuggled_path, probe_path, marker = \
            self.exchange(case, framing)
        seen = [r["path"] for r in s.upstream_requests()]
        summary = "%s/%s: responses %s, upstream saw %s" % (
            case, framing, [(st, h.get("connection")) for st, h, _ in responses], seen[-5:])
        self.assertFalse(any(marker in p and "smuggled" in p for p in seen),
                         "the smuggled request reached the upstream; " + summary)
        self.assertFalse(any(marker.encode() in b and smuggled_path.encode() in b for _, _, b in responses),
                         "an answer to the smuggled request came back; " + summary)
        self.assertTrue(closed, "nginx neither closed the connection nor answered further; " + summary)
        self.assertTrue(responses, "no answer at all; " + summary)
        first_status, first_headers, _ = responses[0]
        self.assertEqual(first_status, status, summary)
        if closes:
            self.assertEqual(first_headers.get("connection", "").lower(), "close", summary)
        if sent_probe:
            # The body was drained, not just dropped with the connection: the next request on it
            # is the probe, answered by the upstream.
            self.assertEqual(len(responses), 2, "expected the answer and the probe's; " + summary)
            self.assertEqual(responses[1][0], 200, summary)
            self.assertIn(probe_path, seen, summary)
        else:
            self.assertEqual(len(responses), 1, "expected exactly one answer; " + summary)

    def test_refusal_does_not_invite_the_body_with_100_continue(self):
        # Like nginx's own error pages: the refusal comes at once, without "100 Continue";
        # a client that sends the body anyway has it discarded, and the connection goes on.
        s = self.stack
        marker = uuid.uuid4().hex
        smuggled = ("GET /public/smuggled-%s HTTP/1.1\r\nHost: localhost\r\n\r\n" % marker).encode()
        probe_path = "/public/probe-" + marker
        with socket.create_connection(("127.0.0.1", s.port), timeout=SOCKET_TIMEOUT) as sock:
            sock.sendall(("POST /app/page HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                          "Content-Length: %d\r\n\r\n" % len(smuggled)).encode())
            first = b""
            while b"\r\n\r\n" not in first:
                chunk = sock.recv(65536)
                self.assertTrue(chunk, "connection closed before an answer")
                first += chunk
            self.assertTrue(first.startswith(b"HTTP/1.1 401 "), first[:200])
            sock.sendall(smuggled + ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                                     % probe_path).encode())
            data = first
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        responses = parse_responses(data)
        self.assertEqual([st for st, _, _ in responses], [401, 200])
        seen = [r["path"] for r in s.upstream_requests()]
        self.assertIn(probe_path, seen)
        self.assertNotIn("/public/smuggled-" + marker, seen)


def _make_test(case, framing):
    def test(self):
        self.check(case, framing)
    test.__name__ = "test_%s_%s" % (case, framing)
    return test


for _case in CASES:
    for _framing in FRAMINGS:
        _t = _make_test(_case, _framing)
        setattr(RequestSmugglingTest, _t.__name__, _t)


if __name__ == "__main__":
    unittest.main()
