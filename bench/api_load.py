#!/usr/bin/env python3
"""REST API authentication load: requests/s of authenticated GETs on one keep-alive connection.

Starts a Release `labgated` on a temporary configuration (loopback, SQLite synchronous=FULL, no
connector), logs in as the first administrator (or uses an API key it creates), then sends
`GET /api/v1/me` and `GET /api/v1/users` back to back on one keep-alive HTTP/1.1 connection for a
fixed time each and prints requests/s and latency percentiles. `GET /health` (no authentication)
is measured the same way as the floor.

The client writes pre-built request bytes on a raw socket and reads each answer by its
Content-Length (reconnecting when labgated closes the connection after its 1000 requests), so that
the client costs little next to the server (http.client alone would cap the rate below what the
server does).

    bench/api_load.py [--labgated build-rel/bin/labgated] [--seconds 5] [--connections 1]
                      [--users 1] [--audit-events N [--audit-hours 24]] [--only PREFIX]
                      [--pid-file FILE]

--connections N runs N client processes, each on its own keep-alive connection, and sums them.
--users N creates N-1 more users so that GET /api/v1/users lists N.
--audit-events N fills the new store's audit trail with N events spread over the last
--audit-hours hours before the first login (written with Python's sqlite3 into the schema labgated
created; their hash chain is not valid, which nothing measured here reads), and measures
GET /api/v1/overview?minutes=60 and ?minutes=1440 too: the dashboard counts refusals and
deliveries per minute from the audit trail.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ADMIN_PASSWORD = "bench api load passphrase 1977"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Connection:
    """One keep-alive HTTP/1.1 connection with a minimal reader (Content-Length bodies only)."""

    def __init__(self, port):
        self.port = port
        self.reconnects = 0
        self._connect()

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _read_until(self, marker):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                return i
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buf += chunk

    def exchange(self, raw):
        self.sock.sendall(raw)
        end = self._read_until(b"\r\n\r\n")
        head = self.buf[:end].decode("latin-1")
        length = 0
        close = False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        need = end + 4 + length
        while len(self.buf) < need:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buf += chunk
        body = self.buf[end + 4:need]
        self.buf = self.buf[need:]
        status = int(head.split(" ", 2)[1])
        if close:
            # labgated closes a keep-alive connection after 1000 requests
            # (engine/net/http_server.cpp): open the next one, as a browser would.
            self.sock.close()
            self.reconnects += 1
            self._connect()
        return status, body


def request(method, path, token=None, body=None):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        lines.append("Content-Type: application/json")
    lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def run_one(port, raw, seconds, out):
    conn = Connection(port)
    # Warm-up: the first requests fill caches and the connection (200 of them, at most 1 s).
    warm_until = time.perf_counter() + 1.0
    warm = 0
    for _ in range(200):
        if time.perf_counter() > warm_until:
            break
        warm += 1
        status, body = conn.exchange(raw)
        if status != 200:
            out.put(("error", status, body[:300].decode("utf-8", "replace")))
            return
    lat = []
    start = time.perf_counter()
    stop = start + seconds
    now = start
    while now < stop:
        t0 = time.perf_counter()
        status, _ = conn.exchange(raw)
        now = time.perf_counter()
        if status != 200:
            out.put(("error", status, ""))
            return
        lat.append(now - t0)
    out.put(("ok", len(lat), now - start, lat, warm))


def measure(port, raw, seconds, connections):
    queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=run_one, args=(port, raw, seconds, queue))
             for _ in range(connections)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    for r in results:
        if r[0] == "error":
            raise RuntimeError(f"request failed: HTTP {r[1]} {r[2]}")
    total = sum(r[1] for r in results)
    sent = total + sum(r[4] for r in results)
    wall = max(r[2] for r in results)
    lat = sorted(x for r in results for x in r[3])

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] * 1000.0

    return total / wall, pct(50), pct(99), sent


def fill_audit(args, config, work, log):
    """Creates the store (labgated refuses to start without the administrator's password, after
    creating the schema) and appends args.audit_events events, oldest first, evenly over the last
    args.audit_hours hours: the trail's ids follow its times, as labgated writes them."""
    import random
    import sqlite3
    env = {k: v for k, v in os.environ.items() if k != "LABGATE_ADMIN_PASSWORD"}
    subprocess.run([args.labgated, "--config", config], env=env, stdout=log,
                   stderr=subprocess.STDOUT, timeout=60)
    db = sqlite3.connect(os.path.join(work, "var", "labgate.db"))
    rng = random.Random(16)
    actions = (["message.accepted"] * 45 + ["outbound.delivered"] * 45 +
               ["message.refused"] * 4 + ["message.invalid"] * 1 + ["user.updated"] * 5)
    now = time.time()
    span = args.audit_hours * 3600.0
    n = args.audit_events

    def rows():
        for i in range(n):
            t = now - span + span * i / n
            at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
            action = rng.choice(actions)
            org = "default" if i % 10 else "other"
            yield (org, at, "connector:hl7in", action, f"message:{i + 1}",
                   '{"connector":"hl7in","results":5,"sample_count":1}', "0" * 64, "%064x" % i)

    db.executemany("INSERT INTO audit (org_id, at, actor, action, subject, detail, prev_hash, hash) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows())
    db.commit()
    db.close()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labgated", default=os.path.join(root, "build-rel", "bin", "labgated"))
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--users", type=int, default=1)
    ap.add_argument("--audit-events", type=int, default=0)
    ap.add_argument("--audit-hours", type=float, default=24.0)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--only", default="", help="measure only the requests whose name starts so")
    ap.add_argument("--pid-file", default="", help="write labgated's pid here (to attach perf)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="labgate-api-load-")
    port = free_port()
    blocklist = os.path.join(root, "config", "common-passwords.txt")
    config = os.path.join(work, "labgate.properties")
    with open(config, "w") as f:
        f.write(f"data.dir = {work}/var\n"
                f"http.listen = 127.0.0.1:{port}\n"
                f"security.password.blocklist = {blocklist}\n"
                f"phi.patterns = {os.path.join(root, 'config', 'phi-patterns.json')}\n"
                "log.level = warning\n"
                "connectors =\n"
                "destinations =\n")
    env = dict(os.environ, LABGATE_ADMIN_PASSWORD=ADMIN_PASSWORD)
    log = open(os.path.join(work, "labgated.log"), "w")
    if args.audit_events > 0:
        fill_audit(args, config, work, log)
    engine = subprocess.Popen([args.labgated, "--config", config], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(f"{engine.pid}\n")
    try:
        deadline = time.time() + 30
        while True:
            try:
                Connection(port).exchange(request("GET", "/health"))
                break
            except OSError:
                if engine.poll() is not None or time.time() > deadline:
                    log.flush()
                    sys.exit("labgated did not start; see " + os.path.join(work, "labgated.log"))
                time.sleep(0.1)
        c = Connection(port)
        status, body = c.exchange(request("POST", "/api/v1/sessions", body={
            "org": "default", "user": "admin", "password": ADMIN_PASSWORD}))
        if status != 201:
            sys.exit(f"login failed: HTTP {status} {body[:300]!r}")
        token = json.loads(body)["token"]
        for i in range(1, args.users):
            status, body = c.exchange(request("POST", "/api/v1/users", token, {
                "username": f"bench{i}", "printed_name": f"Bench {i}", "roles": ["viewer"],
                "password": f"bench user passphrase {i} xyzzy"}))
            if status != 201:
                sys.exit(f"creating a user failed: HTTP {status} {body[:300]!r}")
        status, body = c.exchange(request("POST", "/api/v1/api-keys", token, {
            "name": "bench", "roles": ["viewer"]}))
        if status != 201:
            sys.exit(f"creating an API key failed: HTTP {status} {body[:300]!r}")
        key = json.loads(body)["key"]

        cases = [
            ("GET /health (no authentication)", request("GET", "/health")),
            ("GET /api/v1/me (session token)", request("GET", "/api/v1/me", token)),
            ("GET /api/v1/users (session token)", request("GET", "/api/v1/users", token)),
            ("GET /api/v1/me (API key)", request("GET", "/api/v1/me", key)),
        ]
        if args.audit_events > 0:
            for minutes in (60, 1440):
                cases.append((f"GET /api/v1/overview?minutes={minutes} "
                              f"({args.audit_events:,} audit events)",
                              request("GET", f"/api/v1/overview?minutes={minutes}", token)))
        print(f"labgated {args.labgated}; {args.connections} keep-alive connection(s), "
              f"{args.seconds:g} s per request kind, {args.users} user(s)")
        print("| request | requests/s | p50 ms | p99 ms | engine CPU per request |")
        print("|---|---|---|---|---|")
        for name, raw in cases:
            if not name.startswith(args.only):
                continue
            cpu0 = cpu_seconds(engine.pid)
            rate, p50, p99, sent = measure(port, raw, args.seconds, args.connections)
            cpu = cpu_seconds(engine.pid) - cpu0
            # The CPU includes the warm-up requests; per request it is over all of them.
            per = cpu / max(1, sent) * 1e6
            shown = f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"
            print(f"| `{name}` | {shown} | {p50:.3f} | {p99:.3f} | {per:,.0f} µs |")
    finally:
        engine.send_signal(signal.SIGTERM)
        try:
            engine.wait(timeout=30)
        except subprocess.TimeoutExpired:
            engine.kill()
        log.close()
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
