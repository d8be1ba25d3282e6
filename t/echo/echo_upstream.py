#!/usr/bin/python3
"""Sample upstream for nginx-sso: shows the request headers it received.

  echo_upstream.py --listen 127.0.0.1:PORT [--log FILE]

Any method and path.  Answers an HTML page ("Sample upstream — you are signed
in as …" when an X-SSO-User header is present, "… no identity headers"
otherwise) with a table of every request header, the X-SSO-* ones first and
highlighted.  With "Accept: application/json" or ?format=json it answers
  {"method": ..., "path": ..., "headers": [[name, value], ...]}
with the headers in the order received, duplicates kept.  With --log, the same
JSON is appended to FILE, one line per request, flushed at once, so a test can
tell whether a request reached the upstream.

Header values are decoded from UTF-8 when they are valid UTF-8 (so a
non-ASCII display name reads as such), else from ISO-8859-1.

Prints "READY <port>" once listening; exits on SIGTERM.
"""

import argparse
import html
import json
import signal
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SSO_PREFIX = "x-sso-"


def header_text(value):
    """http.server decodes header bytes as ISO-8859-1; prefer UTF-8."""
    raw = value.encode("iso-8859-1", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return value


def wants_json(handler):
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
    return ("json" in query.get("format", [])
            or "application/json" in handler.headers.get("Accept", ""))


def html_page(record):
    headers = record["headers"]
    sso = [(n, v) for n, v in headers if n.lower().startswith(SSO_PREFIX)]
    others = [(n, v) for n, v in headers if not n.lower().startswith(SSO_PREFIX)]
    user = next((v for n, v in headers if n.lower() == "x-sso-user"), None)
    title = ("Sample upstream — you are signed in as " + user if user is not None
             else "Sample upstream — no identity headers")
    rows = "\n".join(
        f'<tr class="{"sso" if i < len(sso) else "other"}">'
        f"<th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for i, (name, value) in enumerate(sso + others))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }}
td {{ font-family: monospace; word-break: break-all; }}
tr.sso {{ background: #fff3b0; font-weight: bold; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(record["method"])} <code>{html.escape(record["path"])}</code></p>
<table>
<tr><th>Header</th><th>Value</th></tr>
{rows}
</table>
</body></html>
"""


class Handler(BaseHTTPRequestHandler):
    server_version = "echo-upstream/1"
    log_file = None  # set by main()
    log_lock = threading.Lock()

    def do_GET(self):
        self._echo()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def do_HEAD(self):
        self._echo(send_body=False)

    def _echo(self, send_body=True):
        # Drain the request body so the connection can be reused.
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        record = {
            "method": self.command,
            "path": self.path,
            "headers": [[name, header_text(value)] for name, value in self.headers.items()],
        }
        self._log(record)
        if wants_json(self):
            self._send("application/json",
                       json.dumps(record, ensure_ascii=False) + "\n", send_body)
        else:
            self._send("text/html; charset=utf-8", html_page(record), send_body)

    def _log(self, record):
        if self.log_file is None:
            return
        with self.log_lock, open(self.log_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()

    def _send(self, content_type, body, send_body):
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(data)


def parse_listen(value):
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return host.strip("[]"), int(port)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, type=parse_listen)
    parser.add_argument("--log", help="append one JSON line per request to this file")
    args = parser.parse_args(argv)
    Handler.log_file = args.log

    httpd = ThreadingHTTPServer(args.listen, Handler)
    httpd.daemon_threads = True

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY {httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
