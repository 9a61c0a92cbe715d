#!/usr/bin/python3
"""A local stand-in for the Hugging Face hub, for `vecscale model pull` tests: serves ROOT/<repo>/
as {base}/<repo>/resolve/<rev>/<file> (with HTTP Range) and the listing
{base}/api/models/<repo>/revision/<rev> ({"siblings": [{"rfilename", "size", "lfs": {"sha256",
"size"}}]}). Faults for the tests, one per server: --cut FILE (the first GET of FILE stops
halfway and the connection closes), --corrupt FILE (FILE's bytes are altered, the listing is
not), --stall (responses never start). Writes the port it listens on to PORT-FILE.

Usage: hub_server.py ROOT PORT-FILE [--cut NAME] [--corrupt NAME] [--stall] [--log FILE]
"""
import argparse
import hashlib
import json
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

a = argparse.ArgumentParser()
a.add_argument("root")
a.add_argument("port_file")
a.add_argument("--cut")
a.add_argument("--corrupt")
a.add_argument("--stall", action="store_true")
a.add_argument("--log")
args = a.parse_args()
cut_done = set()


def log(msg):
    if args.log:
        with open(args.log, "a") as f:
            f.write(msg + "\n")


class Hub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body=b"", ctype="application/octet-stream", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        log("GET %s range=%s" % (self.path, self.headers.get("Range")))
        if args.stall:
            time.sleep(60)
            return
        path = self.path.split("?")[0]
        m = re.fullmatch(r"/api/models/([\w.-]+/[\w.-]+)/revision/([\w.-]+)", path)
        if m:
            d = os.path.join(args.root, m.group(1))
            if not os.path.isdir(d):
                return self.send(404, b'{"error":"Repository not found"}', "application/json")
            sib = []
            for dp, _, files in os.walk(d):
                for f in sorted(files):
                    full = os.path.join(dp, f)
                    data = open(full, "rb").read()
                    sib.append({"rfilename": os.path.relpath(full, d), "size": len(data),
                                "lfs": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}})
            return self.send(200, json.dumps({"id": m.group(1), "siblings": sib}).encode(), "application/json")
        m = re.fullmatch(r"/([\w.-]+/[\w.-]+)/resolve/([\w.-]+)/(.+)", path)
        full = m and os.path.join(args.root, m.group(1), m.group(3))
        if not m or ".." in m.group(3) or not os.path.isfile(full):
            return self.send(404, b"Entry not found", "text/plain")
        data = open(full, "rb").read()
        name = m.group(3)
        if name == args.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        r = self.headers.get("Range")
        if r:
            start = int(re.fullmatch(r"bytes=(\d+)-", r).group(1))
            if start >= len(data):
                return self.send(416, b"", extra={"Content-Range": "bytes */%d" % len(data)})
        body = data[start:]
        self.send_response(206 if r else 200)
        self.send_header("Content-Length", str(len(body)))
        if r:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if name == args.cut and name not in cut_done:
            cut_done.add(name)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.replace(args.port_file + ".tmp", args.port_file)
srv.serve_forever()
