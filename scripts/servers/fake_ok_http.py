#!/usr/bin/env python3
"""FAKE SERVER (labelled as such): a plain HTTP server that answers `Ok.` on every path,
as load balancers and health endpoints do. No real server shows this exact behaviour on
a ClickHouse port, and leakhound must not report it as ClickHouse.
Usage: fake_ok_http.py ADDR PORT"""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"Ok.\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
