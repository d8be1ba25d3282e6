"""A metadata URL for the tests: serves DIR/md.xml at any path.

DIR/mode says how to answer: "ok" (the default), "500", "garbage", or "stall" (hold the
request without answering until the mode changes). Every request appends a line to DIR/hits,
so a test can wait for the next fetch by polling instead of sleeping.

Usage: metadata_server.py --listen 127.0.0.1:PORT --dir DIR
"""
import argparse
import http.server
import os
import signal
import sys
import threading
import time


def read(path, default=b""):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return default


class Handler(http.server.BaseHTTPRequestHandler):
    directory = "."

    def log_message(self, *args):
        pass

    def mode(self):
        return read(os.path.join(self.directory, "mode"), b"ok").decode().strip() or "ok"

    def do_GET(self):
        with open(os.path.join(self.directory, "hits"), "a") as f:
            f.write("%s %s\n" % (self.mode(), self.path))
        mode = self.mode()
        while mode == "stall":
            time.sleep(0.05)
            mode = self.mode()
        if mode == "500":
            body, status = b"internal error\n", 500
        elif mode == "garbage":
            body, status = b"<html><body>Maintenance</body></html>\n", 200
        else:
            body, status = read(os.path.join(self.directory, "md.xml")), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/samlmetadata+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    Handler.directory = args.dir
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
