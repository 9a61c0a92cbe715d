#!/usr/bin/python3
# ceph_cmd.py CONF JSON: sends one monitor command, like `ceph -c CONF ...`, and prints its
# output; exit 1 with the monitor's error on stderr if it refuses.
#
# Why not the `ceph` CLI: a Ceph 16 librados client can send its first command before it has
# decoded the monitor's monmap, and then the command carries fsid 0 (its first monmap is built
# from the mon addresses the config bootstrap cached, without the fsid); the monitor refuses
# it as "wrong fsid". With "auth none" and the v1 protocol nothing makes the client wait: 19 of
# 200 back-to-back connects to an idle loopback cluster had their first command refused. This
# waits, bounded, until the client holds the monitor's fsid, which is exactly what the monitor
# checks (Monitor::handle_command), and only then sends the command.
import json
import sys
import time

import rados

ZERO = "00000000-0000-0000-0000-000000000000"


def main():
    if len(sys.argv) != 3:
        print("usage: ceph_cmd.py CONF JSON-COMMAND", file=sys.stderr)
        return 2
    conf, cmd = sys.argv[1], sys.argv[2]
    prefix = json.loads(cmd).get("prefix", "?")
    cluster = None
    try:
        cluster = rados.Rados(conffile=conf, conf={"client_mount_timeout": "5"})
        cluster.connect(timeout=5)
        deadline = time.monotonic() + 10
        while cluster.get_fsid() == ZERO:
            if time.monotonic() > deadline:
                print(f"ceph_cmd: {prefix}: no monmap from the monitor 10 s after connecting",
                      file=sys.stderr)
                return 1
            time.sleep(0.001)
        ret, out, err = cluster.mon_command(cmd, b"", timeout=30)
    except rados.Error as e:
        print(f"ceph_cmd: {prefix}: {e}", file=sys.stderr)
        return 1
    finally:
        if cluster is not None:
            cluster.shutdown()
    if ret != 0:
        print(f"ceph_cmd: {prefix}: {err} ({ret})", file=sys.stderr)
        return 1
    sys.stdout.write(out.decode())
    if out and not out.endswith(b"\n"):
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
