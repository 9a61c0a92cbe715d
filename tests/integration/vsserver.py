"""Black-box helpers for tests that drive `vecscale serve` over HTTP (standard library only, for
/usr/bin/python3): start a server on a free loopback port (--port 0 --port-file), send JSON
requests, stop it with a signal. A failed check raises AssertionError with what was seen."""
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request


class Server:
    def __init__(self, binary, data, *extra, log=None):
        self.data = data
        self.port_file = data.rstrip("/") + ".port"
        self.log_path = log or data.rstrip("/") + ".log"
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen([binary, "serve", "--data", data, "--port", "0", "--port-file", self.port_file,
                                          "--threads", "2", *extra], stdout=log_file, stderr=log_file)
        deadline = time.monotonic() + 60
        while True:
            try:
                with open(self.port_file) as f:
                    self.port = int(f.read().strip())
                break
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None:
                raise AssertionError("server exited during start (%d); log %s:\n%s" % (self.proc.returncode, self.log_path, self.log()))
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("server did not listen within 60 s; log %s" % self.log_path)
            time.sleep(0.02)
        self.url = "http://127.0.0.1:%d" % self.port

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-4000:]

    def request(self, method, path, body=None, raw=None, timeout=60):
        """(status, parsed JSON or text). body is sent as JSON; raw as bytes/str as it is."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if isinstance(data, str):
            data = data.encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def ok(self, method, path, body=None, raw=None, status=200):
        got, reply = self.request(method, path, body, raw)
        if got != status:
            raise AssertionError("%s %s %s -> %d, want %d: %s" % (method, path, raw if raw is not None else json.dumps(body),
                                                                  got, status, reply))
        return reply

    def error(self, method, path, body=None, raw=None, status=400, code=None, needle=None):
        reply = self.ok(method, path, body, raw, status)
        err = reply.get("error", {}) if isinstance(reply, dict) else {}
        if code and err.get("code") != code:
            raise AssertionError("%s %s: want error code %s, got %s" % (method, path, code, reply))
        if needle and needle not in err.get("message", ""):
            raise AssertionError("%s %s: error message lacks %r: %s" % (method, path, needle, reply))
        return err

    def stop(self, sig=signal.SIGTERM):
        """Sends sig and waits; returns the exit code (negative: killed by that signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def check(cond, what, *seen):
    if not cond:
        raise AssertionError(what + ("" if not seen else ": " + " | ".join(str(s)[:2000] for s in seen)))
    print("ok - " + what, flush=True)
