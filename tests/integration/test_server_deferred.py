"""A long POST /save must not stall the other connections of its poll loop.

`vecscale serve --threads 1` has one libmicrohttpd poll loop: every connection is on it. The save
is made slow without big data: the server publishes each save to --snapshot-uri, whose endpoint
here is a socket that accepts and never answers, so the publish waits --s3-timeout (1 s, each attempt up to 2 s). While
it waits, GET /health and a search on other kept-alive connections must answer at once; the save
then answers 502 with the publish error (the local save stands). A SIGTERM while a save is
waiting must still stop the server cleanly (exit 0): libmicrohttpd may not stop with a
connection suspended.
Usage: test_server_deferred.py VECSCALE WORKDIR"""
import http.client
import json
import os
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsserver import Server, check  # noqa: E402

S3_TIMEOUT = 1


class BlackHole:
    """Accepts connections and never answers; counts them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted += 1


def request(conn, method, path, body=None):
    t0 = time.monotonic()
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    text = resp.read().decode()
    return resp.status, text, time.monotonic() - t0


def start_save(port, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out["status"], out["text"], out["seconds"] = request(conn, "POST", "/save")
    out["at"] = time.monotonic()


def wait_for(cond, seconds, what):
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def main():
    vs, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.path.join(work, "data")
    srv = Server(vs, data, "--dim", "4", "--index", "Flat")
    srv.ok("POST", "/vectors", {"vectors": [[1, 0, 0, 0], [0, 1, 0, 0]], "ids": ["a", "b"]})
    check(srv.stop() == 0, "a plain server stopped")

    hole = BlackHole()
    os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    srv = Server(vs, data, "--threads", "1", "--snapshot-uri", "s3://bucket/p", "--s3-endpoint",
                 "http://127.0.0.1:%d" % hole.port, "--s3-timeout", str(S3_TIMEOUT))
    # The other client's connection is open (kept alive) before the save starts.
    other = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    check(request(other, "GET", "/health")[0] == 200, "health on the kept-alive connection")

    save = {}
    t = threading.Thread(target=start_save, args=(srv.port, save))
    t.start()
    wait_for(lambda: hole.accepted > 0, 30, "the save's publish to reach the S3 endpoint")
    status, text, seconds = request(other, "GET", "/health")
    pending = "status" not in save
    check(status == 200 and seconds < 1.0 and pending,
          "GET /health answered in %.3f s while the save waited for S3 (save still pending: %s)" % (seconds, pending),
          text)
    status, text, seconds = request(other, "POST", "/search", {"vector": [1, 0, 0, 0], "k": 1})
    check(status == 200 and json.loads(text)["results"][0]["id"] == "a" and "status" not in save,
          "a search answered in %.3f s on the same poll loop, save still pending" % seconds, text)
    t.join(60)
    check(save.get("status") == 502 and save["seconds"] >= 1.5 and '"saved":true' in save["text"],
          "the save answered %s after %.2f s: saved locally, publish failed" % (save.get("status"), save.get("seconds", -1)),
          save.get("text"))
    status, text, _ = request(other, "GET", "/stats")
    check(status == 200 and json.loads(text)["total_vectors"] == 2, "the kept-alive connection still serves", text)

    # SIGTERM while a save waits for S3: the save finishes (publish timeout), the server exits 0.
    before = hole.accepted
    t = threading.Thread(target=start_save, args=(srv.port, {}), daemon=True)
    t.start()
    wait_for(lambda: hole.accepted > before, 30, "the second save's publish")
    t0 = time.monotonic()
    rc = srv.stop()
    check(rc == 0 and time.monotonic() - t0 < 30, "SIGTERM during a waiting save: exit %d after %.2f s" % (rc, time.monotonic() - t0),
          srv.log())
    print("all passed")


if __name__ == "__main__":
    main()
