#!/usr/bin/env python3
"""Delivery throughput (issue 16, part C): starts labgated with a temporary configuration (SQLite,
synchronous=FULL) and a sink LIS on loopback, sends HL7 ORU^R01 over MLLP from several sender
processes (each connection sends in series and waits for its AA), and reports messages/s accepted
and delivered to the LIS and their ratio. A quick tool of part C; the project's load generator is
bench/loadgen + bench/run-e2e (part D).

  bench/delivery_load.py --labgated build-rel/bin/labgated --connections 8 --messages 600
  bench/delivery_load.py ... --drain      # the LIS answers only after every message is accepted:
                                          # the delivery rate alone, from a full queue
  bench/delivery_load.py ... --lis-connections 4 --destination-connections 4

Senders and the LIS run in processes of their own (no GIL between them and the engine's load).
"""
import argparse
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VT, FS, CR = b"\x0b", b"\x1c", b"\r"
CODES = ["25OHD3", "25OHD2", "TESTO", "CORT", "TAC"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def oru(conn, i, results):
    sample = "S%02d%06d" % (conn, i)
    segs = ["MSH|^~\\&|LOADGEN|LAB|LABGATE|LAB|20261207120000||ORU^R01|C%02d-%06d|P|2.5.1" % (conn, i),
            "OBR|1|P%s|%s|24323-8^Metabolic panel^LN|||20261207113000" % (sample, sample)]
    for r in range(results):
        code = CODES[r % len(CODES)]
        segs.append("OBX|%d|NM|%s^%s^L||%d.%d|ng/mL|||||F|||20261207115000" % (r + 1, code, code, 10 + r, i % 10))
    return ("\r".join(segs) + "\r").encode()


def sender(port, conn_no, count, results, out):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat, errors, buf = [], 0, b""
    for i in range(count):
        t0 = time.perf_counter()
        s.sendall(VT + oru(conn_no, i, results) + FS + CR)
        while FS + CR not in buf:
            data = s.recv(65536)
            if not data:
                out.put((lat, errors + count - i))
                return
            buf += data
        ack, buf = buf.split(FS + CR, 1)
        if b"MSA|AA|" not in ack:
            errors += 1
        lat.append(time.perf_counter() - t0)
    s.close()
    out.put((lat, errors))


def lis(port, gate, counter, first, last):
    """Sink LIS: ACKs AA at once, on as many connections as come; counts and timestamps."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    gate.wait()  # --drain: not listening (connection refused) until the intake is done
    server.listen(64)
    import threading

    def serve(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while True:
            data = conn.recv(262144)
            if not data:
                return
            buf += data
            acks = []
            while FS + CR in buf:
                msg, buf = buf.split(FS + CR, 1)
                msh = msg.lstrip(VT).split(CR, 1)[0].split(b"|")
                acks.append(VT + b"MSH|^~\\&|LIS||LABGATE||20261207||ACK^R01^ACK|A" + msh[9] +
                            b"|P|2.5.1\rMSA|AA|" + msh[9] + b"\r" + FS + CR)
            if acks:
                conn.sendall(b"".join(acks))
                now = time.time()
                with counter.get_lock():
                    if counter.value == 0:
                        first.value = now
                    counter.value += len(acks)
                    last.value = now

    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def health(port):
    return json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5).read())


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) // 1024
    return cpu, hwm


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labgated", default=os.path.join(REPO, "build-rel/bin/labgated"))
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--messages", type=int, default=600, help="messages per connection")
    ap.add_argument("--results", type=int, default=5, help="results per message")
    ap.add_argument("--drain", action="store_true", help="the LIS listens only after the intake")
    ap.add_argument("--destination-connections", type=int, default=0,
                    help="destination.lis.connections (0: not set)")
    ap.add_argument("--extra", action="append", default=[], help="extra config line key=value")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--perf", metavar="FILE",
                    help="perf record -g the engine while it delivers (with --drain: the drain only)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="labgate-dload-")
    hl7_port, http_port, lis_port = free_port(), free_port(), free_port()
    mappings = os.path.join(tmp, "map.csv")
    with open(mappings, "w") as f:
        f.write("instrument_code,lis_code,lis_name,units,decimals\n")
        for code in CODES:
            f.write("%s,L%s,%s,ng/mL,\n" % (code, code, code))
    lines = ["data.dir = %s/var" % tmp, "http.listen = 127.0.0.1:%d" % http_port,
             "phi.patterns = %s/config/phi-patterns.json" % REPO, "log.console = false",
             "log.file = %s/labgated.log" % tmp,
             "connectors = load", "connector.load.kind = hl7-mllp",
             "connector.load.listen = 127.0.0.1:%d" % hl7_port,
             "connector.load.max_connections = %d" % max(16, args.connections + 2),
             "connector.load.mappings = %s" % mappings, "connector.load.destinations = lis",
             "destinations = lis", "destination.lis.kind = hl7-mllp",
             "destination.lis.host = 127.0.0.1", "destination.lis.port = %d" % lis_port,
             "destination.lis.retry_initial_ms = 20", "destination.lis.retry_max_ms = 50"]
    if args.destination_connections:
        lines.append("destination.lis.connections = %d" % args.destination_connections)
    lines += [e.replace("=", " = ", 1) for e in args.extra]
    config = os.path.join(tmp, "labgate.properties")
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")

    gate = mp.Event()
    counter, first, last = mp.Value("q", 0), mp.Value("d", 0.0), mp.Value("d", 0.0)
    sink = mp.Process(target=lis, args=(lis_port, gate, counter, first, last), daemon=True)
    sink.start()
    if not args.drain:
        gate.set()
    env = dict(os.environ, LABGATE_ADMIN_PASSWORD="delivery-load bench passphrase")
    engine = subprocess.Popen([args.labgated, "--config", config], env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "stderr"), "w"))
    try:
        for _ in range(200):
            try:
                health(http_port)
                break
            except OSError:
                if engine.poll() is not None:
                    sys.exit("labgated exited: see %s/stderr (--keep)" % tmp)
                time.sleep(0.05)
        out = mp.Queue()
        total = args.connections * args.messages
        cpu0, _ = proc_stat(engine.pid)
        start_wall = time.time()
        start = time.perf_counter()
        procs = [mp.Process(target=sender, args=(hl7_port, c, args.messages, args.results, out))
                 for c in range(args.connections)]
        for p in procs:
            p.start()
        latencies, errors = [], 0
        for _ in procs:
            lat, err = out.get()
            latencies += lat
            errors += err
        for p in procs:
            p.join()
        accepted_s = time.perf_counter() - start
        perf = None
        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-g", "-o", args.perf, "-p", str(engine.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
        if args.drain:
            drain_start = time.time()
            gate.set()
        deadline = time.time() + 600
        while counter.value < total and time.time() < deadline:
            time.sleep(0.02)
        delivered_s = last.value - start_wall
        if perf:
            perf.send_signal(2)
            perf.wait()
        cpu1, hwm = proc_stat(engine.pid)
        latencies.sort()
        h = health(http_port)

        def pct(q):
            return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * q))] if latencies else 0
        print("connections=%d messages=%d results/message=%d errors=%d%s" %
              (args.connections, total, args.results, errors, " (drain)" if args.drain else ""))
        print("accepted (AA): %.0f msg/s = %.0f results/s in %.2f s; ACK p50 %.2f p99 %.2f p99.9 %.2f ms" %
              (total / accepted_s, total * args.results / accepted_s, accepted_s, pct(0.5), pct(0.99), pct(0.999)))
        if args.drain:
            span = last.value - max(first.value, drain_start)
            print("delivered from a full queue: %d in %.2f s = %.0f msg/s = %.0f results/s" %
                  (counter.value, span, counter.value / span, counter.value * args.results / span))
        else:
            rate = counter.value / delivered_s
            print("delivered: %d in %.2f s = %.0f msg/s = %.0f results/s; delivered/accepted %.2f" %
                  (counter.value, delivered_s, rate, rate * args.results, rate / (total / accepted_s)))
        print("engine CPU %.2f s, peak RSS %d MB; health queue_depth=%d" %
              (cpu1 - cpu0, hwm, h["destinations"][0]["queue_depth"]))
        return 0 if not errors and counter.value >= total else 1
    finally:
        engine.terminate()
        engine.wait(timeout=30)
        sink.terminate()
        if not args.keep:
            subprocess.call(["rm", "-rf", tmp])
        else:
            print("kept", tmp)


if __name__ == "__main__":
    sys.exit(main())
