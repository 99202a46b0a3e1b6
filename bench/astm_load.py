#!/usr/bin/env python3
"""End-to-end load generator: starts labgated with a temporary configuration and a fake LIS on
loopback, sends ASTM messages over several concurrent instrument connections, and reports
messages/s acknowledged (committed) and delivered to the LIS. Bounded: it sends exactly
--connections x --messages messages to 127.0.0.1 and stops.

  bench/astm_load.py --labgated build-rel/bin/labgated --connections 4 --messages 250
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

STX, ETX, EOT, ENQ, ACK = b"\x02", b"\x03", b"\x04", b"\x05", b"\x06"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def frame(fn, text):
    body = str(fn % 8).encode() + text + ETX
    return STX + body + ("%02X" % (sum(body) & 0xFF)).encode() + b"\r\n"


def message(conn, i, results):
    sample = "L%02d-%06d" % (conn, i)
    text = "H|\\^&|||LoadGen^1.0|||||||P|LIS2-A2|20261124120000\rP|1\rO|1|%s||^^^ALL|R\r" % sample
    codes = ["25OHD3", "25OHD2", "TESTO", "CORT", "TAC"]
    for r in range(results):
        text += "R|%d|^^^%s|%d.%d|ng/mL||N||F||||20261124120000\r" % (
            r + 1, codes[r % len(codes)], 10 + r, i % 10)
    return (text + "L|1|N\r").encode()


class FakeLis(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.count = port, 0
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(4)

    def run(self):
        while True:
            conn, _ = self.server.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while b"\x1c\r" in buf:
                msg, buf = buf.split(b"\x1c\r", 1)
                msh = msg.lstrip(b"\x0b").split(b"\r")[0].split(b"|")
                ack = b"MSH|^~\\&|LIS||LABGATE||20261124||ACK^R01^ACK|A|P|2.5.1\rMSA|AA|" + msh[9] + b"\r"
                conn.sendall(b"\x0b" + ack + b"\x1c\r")
                self.count += 1


def instrument(port, conn_no, count, results, latencies, errors):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as instruments sending small writes should
    for i in range(count):
        t0 = time.perf_counter()
        s.sendall(ENQ)
        if s.recv(1) != ACK:
            errors.append("ENQ not acknowledged")
            return
        s.sendall(frame(1, message(conn_no, i, results)))
        if s.recv(1) != ACK:
            errors.append("message not acknowledged")
            return
        s.sendall(EOT)
        latencies.append(time.perf_counter() - t0)
    s.close()


def health(port):
    return json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5).read())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labgated", default=os.path.join(REPO, "build-rel/bin/labgated"))
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--messages", type=int, default=250, help="messages per connection")
    ap.add_argument("--results", type=int, default=5, help="results per message")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="labgate-load-")
    astm_port, http_port, lis_port = free_port(), free_port(), free_port()
    mappings = os.path.join(tmp, "map.csv")
    with open(mappings, "w") as f:
        f.write("instrument_code,lis_code,lis_name,units,decimals\n")
        for code in ["25OHD3", "25OHD2", "TESTO", "CORT", "TAC"]:
            f.write("%s,L%s,%s,ng/mL,\n" % (code, code, code))
    config = os.path.join(tmp, "labgate.properties")
    with open(config, "w") as f:
        f.write("\n".join([
            "data.dir = %s/var" % tmp, "http.listen = 127.0.0.1:%d" % http_port,
            "phi.patterns = %s/config/phi-patterns.json" % REPO, "log.console = false",
            "connectors = load", "connector.load.kind = astm-tcp",
            "connector.load.listen = 127.0.0.1:%d" % astm_port,
            "connector.load.mappings = %s" % mappings, "connector.load.destinations = lis",
            "destinations = lis", "destination.lis.kind = hl7-mllp",
            "destination.lis.host = 127.0.0.1", "destination.lis.port = %d" % lis_port, ""]))
    lis = FakeLis(lis_port)
    lis.start()
    engine = subprocess.Popen([args.labgated, "--config", config])
    try:
        for _ in range(100):
            try:
                health(http_port)
                break
            except OSError:
                time.sleep(0.1)
        latencies, errors, threads = [], [], []
        start = time.perf_counter()
        for c in range(args.connections):
            t = threading.Thread(target=instrument,
                                 args=(astm_port, c, args.messages, args.results, latencies, errors))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        acked = time.perf_counter() - start
        total = args.connections * args.messages
        deadline = time.time() + 300
        while lis.count < total and time.time() < deadline:
            time.sleep(0.05)
        delivered = time.perf_counter() - start
        latencies.sort()
        h = health(http_port)
        print("connections=%d messages=%d results/message=%d errors=%d" %
              (args.connections, total, args.results, len(errors)))
        print("acknowledged (committed): %.0f messages/s, %.0f results/s" %
              (total / acked, total * args.results / acked))
        print("per-message latency ENQ..ACK: p50 %.2f ms, p99 %.2f ms" %
              (1000 * latencies[len(latencies) // 2], 1000 * latencies[int(len(latencies) * 0.99)]))
        print("delivered to the LIS: %d in %.2f s (%.0f messages/s)" % (lis.count, delivered, lis.count / delivered))
        print("health: accepted=%d queue_depth=%d" % (h["connectors"][0]["messages_accepted"],
                                                      h["destinations"][0]["queue_depth"]))
        return 0 if not errors and lis.count >= total else 1
    finally:
        engine.terminate()
        engine.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
