"""A long POST /save must not stall the other connections of its poll loop.

`vecscale serve --threads 1` has one libmicrohttpd poll loop: every connection is on it. The save
is made slow without big data: the server publishes each save to --snapshot-uri, whose endpoint
here is a socket that accepts and does not answer until the test releases it (then it closes
every connection, and the publish fails at once); --s3-timeout (30 s) is far longer than the
test holds it. While the save waits, GET /health and a search on other kept-alive connections
must answer (a stalled poll loop would answer them only after the release: the client's
timeout fails the test first); the save then answers 502 with the publish error (the local save
stands). A SIGTERM while a save is waiting must still stop the server cleanly (exit 0):
libmicrohttpd may not stop with a connection suspended. No check depends on how fast anything
is: the hole holds the save for as long as the test needs.
Usage: test_server_deferred.py VECSCALE WORKDIR"""
import http.client
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsserver import Server, check  # noqa: E402

S3_TIMEOUT = 30
ANSWER_S = 30  # how long the other connection's requests may take (a stalled loop: never)


class BlackHole:
    """Accepts connections and does not answer them; counts them. Once released, closes every
    connection it holds and each new one at once (the S3 client then fails fast)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns = []
        self.lock = threading.Lock()
        self.released = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                if self.released:
                    c.close()
                else:
                    self.conns.append(c)

    def hold(self):
        with self.lock:
            self.released = False

    def release(self):
        with self.lock:
            self.released = True
            for c in self.conns:
                c.close()
            self.conns = []


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


def checks(srv, hole):
    # The other client's connection is open (kept alive) before the save starts.
    other = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=ANSWER_S)
    check(request(other, "GET", "/health")[0] == 200, "health on the kept-alive connection")

    save = {}
    t = threading.Thread(target=start_save, args=(srv.port, save))
    t.start()
    wait_for(lambda: hole.accepted > 0, 30, "the save's publish to reach the S3 endpoint")
    status, text, seconds = request(other, "GET", "/health")
    pending = "status" not in save
    check(status == 200 and pending,
          "GET /health answered (in %.3f s) while the save waited for S3 (save still pending: %s)" % (seconds, pending),
          text)
    status, text, seconds = request(other, "POST", "/search", {"vector": [1, 0, 0, 0], "k": 1})
    check(status == 200 and json.loads(text)["results"][0]["id"] == "a" and "status" not in save,
          "a search answered (in %.3f s) on the same poll loop, save still pending" % seconds, text)
    released = time.monotonic()
    hole.release()
    t.join(60)
    check(save.get("status") == 502 and save["at"] >= released and '"saved":true' in save["text"],
          "the save answered %s once the S3 endpoint gave up, after %.2f s: saved locally, publish failed" % (
              save.get("status"), save.get("seconds", -1)), save.get("text"))
    status, text, _ = request(other, "GET", "/stats")
    check(status == 200 and json.loads(text)["total_vectors"] == 2, "the kept-alive connection still serves", text)

    # SIGTERM while a save waits for S3: the save finishes (publish timeout), the server exits 0.
    hole.hold()
    before = hole.accepted
    t = threading.Thread(target=start_save, args=(srv.port, {}), daemon=True)
    t.start()
    wait_for(lambda: hole.accepted > before, 30, "the second save's publish")
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)  # the server takes the signal with the save's connection suspended
    check(srv.proc.poll() is None, "the server waits for the save's publish after SIGTERM", srv.log())
    t0 = time.monotonic()
    hole.release()
    rc = srv.stop()  # killed after 60 s: an exit that hangs fails here
    check(rc == 0, "SIGTERM during a waiting save: exit %d %.2f s after the publish gave up" % (rc, time.monotonic() - t0),
          srv.log())


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
    try:
        checks(srv, hole)
    finally:  # a failed check leaves no server behind (it would wait on the hole forever)
        hole.release()
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
    print("all passed")


if __name__ == "__main__":
    main()
