#!/usr/bin/env python3
"""Crash test for labgated: load from ASTM and HL7 senders while the engine is killed with SIGKILL
at random moments, cycle after cycle, on the same data directory. Afterwards the engine is started
once more, drains its queue to a fake LIS, and the test checks that every message acknowledged to
a sender reached the LIS (lost = 0). A sample that reached the LIS more than once is a duplicate;
that is allowed (at-least-once delivery after a kill in the middle of a delivery) only when every
copy carries the same outbound MSH-10, i.e. it is a resend of one stored message, never a second
commit. Python 3 standard library only.

  tests/crash/kill_loop.py --labgated build-perf/bin/labgated --short   # 5 cycles, 2 + 2 senders
  tests/crash/kill_loop.py --labgated build-perf/bin/labgated           # 50 cycles, 4 + 4 senders
  tests/crash/kill_loop.py --labgated ... --cycles 200 --seed 7 --keep

Prints one line per cycle and then the summary
  cycles=.. sent=.. acknowledged=.. delivered=.. duplicates=.. committed_unacked=.. lost=..
Exit status: 0 pass; 1 a lost message, a duplicate with different MSH-10s, or another broken
guarantee (see the lines before the summary); 2 the test could not run (engine did not start...).
Pass/fail never depends on speed: every timeout is generous and only bounds a hang.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Any 20+ character passphrase: the first start creates user admin with it.
ADMIN_PASSWORD = "crash-test-only-passphrase-7Qx"

# ASTM E1381 control characters.
STX, ETX, ETB, EOT, ENQ, ACK, NAK = 0x02, 0x03, 0x17, 0x04, 0x05, 0x06, 0x15
# MLLP framing.
VT, FS, CR = b"\x0b", b"\x1c", b"\r"

# Instrument codes of tests/data/integration/mappings.csv with values already carrying the
# mapped number of decimals (GLU 1, CREA 2, NA 0, K 1), so every result is released.
RESULTS = [("GLU", "mmol/L", 1, 3.0, 12.0), ("CREA", "mg/dL", 2, 0.5, 1.5),
           ("NA", "mmol/L", 0, 132, 148), ("K", "mmol/L", 1, 3.2, 5.4)]

SENDER_TIMEOUT = 120.0   # one reply from the engine (ASan build on busy cores: be generous)
START_TIMEOUT = 180.0    # labgated up and answering /health
STOP_TIMEOUT = 60.0      # labgated gone after SIGTERM


class Abort(Exception):
    """The test could not run (exit status 2)."""


class PortClash(Exception):
    """labgated could not listen: another program took one of the free ports picked for it."""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def now_hl7():
    return time.strftime("%Y%m%d%H%M%S", time.gmtime())


def result_values(rng, count):
    out = []
    for k in range(count):
        code, units, decimals, low, high = RESULTS[k % len(RESULTS)]
        value = "%.*f" % (decimals, rng.uniform(low, high))
        out.append((code, units, value))
    return out


# ---------------------------------------------------------------------------------------------
# The fake LIS

class FakeLis(threading.Thread):
    """MLLP server on loopback: answers every message with ACK AA echoing MSH-10 in MSA-2 and
    records each message's MSH-10, the sample ids of its OBR-3 and ORC-3, and its bytes."""

    def __init__(self):
        super().__init__(daemon=True, name="fake-lis")
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()
        self.messages = []          # (msh10, [sample ids], payload bytes)
        self.last_activity = time.monotonic()
        self.closed = False
        self.acks = 0

    def run(self):
        while not self.closed:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True, name="lis-conn").start()

    def close(self):
        self.closed = True
        try:
            self.server.close()
        except OSError:
            pass

    def serve(self, conn):
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while True:
                    start = buf.find(VT)
                    if start < 0:
                        buf = b""
                        break
                    end = buf.find(FS + CR, start)
                    if end < 0:
                        buf = buf[start:]
                        break
                    payload, buf = buf[start + 1:end], buf[end + 2:]
                    msh10, samples = parse_oru(payload)
                    with self.lock:
                        self.messages.append((msh10, samples, payload))
                        self.last_activity = time.monotonic()
                    ack = ("MSH|^~\\&|FAKELIS|LAB|LABGATE||%s||ACK^R01^ACK|ACK%d|P|2.5.1\rMSA|AA|%s\r"
                           % (now_hl7(), len(self.messages), msh10)).encode()
                    try:
                        conn.sendall(VT + ack + FS + CR)
                    except OSError:
                        return
                    with self.lock:
                        self.acks += 1

    def snapshot(self):
        with self.lock:
            return list(self.messages), self.last_activity


def parse_oru(payload):
    msh10, samples = "", []
    for segment in payload.decode("utf-8", "replace").split("\r"):
        fields = segment.split("|")
        if fields[0] == "MSH" and len(fields) > 9:
            msh10 = fields[9]          # MSH-1 is the separator itself
        elif fields[0] in ("OBR", "ORC") and len(fields) > 3:
            sample = fields[3].split("^")[0]
            if sample and sample not in samples:
                samples.append(sample)
    return msh10, samples


# ---------------------------------------------------------------------------------------------
# Senders

class Sender:
    """One instrument connection. Messages are numbered across cycles; each gets a unique sample
    id (A03-000123 for ASTM sender 3, H02-000045 for HL7 sender 2; for HL7 it is the MSH-10 too).
    records[id] = [cycle, state] with state acked, unacked (sent, no answer: in flight at the
    kill) or rejected (a definite negative answer, after retries)."""

    def __init__(self, kind, index, port, seed):
        self.kind, self.index, self.port = kind, index, port
        self.rng = random.Random(seed)
        self.prefix = "%s%02d" % ("A" if kind == "astm" else "H", index)
        self.next_number = 0
        self.records = {}
        self.order = []             # ids in sending order
        self.errors = []            # unexpected protocol events (reported, not fatal by themselves)

    def new_id(self):
        self.next_number += 1
        return "%s-%06d" % (self.prefix, self.next_number)

    def run_cycle(self, cycle, stop):
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=SENDER_TIMEOUT)
        except OSError:
            return                  # killed before we got in
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with sock:
            while not stop.is_set():
                sample = self.new_id()
                state = (self.astm_message if self.kind == "astm" else self.hl7_message)(sock, sample)
                if state is None:    # nothing of it reached the wire
                    return
                self.records[sample] = [cycle, state]
                self.order.append(sample)
                if state == "unacked":
                    return           # the connection is gone: the engine was killed

    # ----- ASTM E1381/E1394 -----

    def astm_text(self, sample):
        results = result_values(self.rng, self.rng.randint(1, 6))
        tests = "\\".join("^^^" + code for code, _, _ in results)
        records = ["H|\\^&|||CrashTest^%s^1.0|||||||P|LIS2-A2|%s" % (self.prefix, now_hl7()),
                   "P|1",
                   "O|1|%s||%s|R||||||N||||||||||||||F" % (sample, tests)]
        for n, (code, units, value) in enumerate(results, 1):
            records.append("R|%d|^^^%s|%s|%s||N||F||||%s" % (n, code, value, units, now_hl7()))
        records.append("L|1|N")
        return ("\r".join(records) + "\r").encode()

    @staticmethod
    def astm_frames(text):
        chunks = [text[i:i + 240] for i in range(0, len(text), 240)]
        frames = []
        for n, chunk in enumerate(chunks, 1):
            body = str(n % 8).encode() + chunk + bytes([ETX if n == len(chunks) else ETB])
            frames.append(bytes([STX]) + body + ("%02X" % (sum(body) & 0xFF)).encode() + b"\r\n")
        return frames

    def astm_reply(self, sock):
        try:
            b = sock.recv(1)
        except socket.timeout:
            self.errors.append("no reply within %.0f s" % SENDER_TIMEOUT)
            return None
        except OSError:
            return None
        return b[0] if b else None

    def astm_message(self, sock, sample):
        # Establishment: ENQ until ACK (NAK = busy, try again a little later).
        for _ in range(30):
            try:
                sock.sendall(bytes([ENQ]))
            except OSError:
                return None
            reply = self.astm_reply(sock)
            if reply is None:
                return None
            if reply == ACK:
                break
            time.sleep(0.5)
        else:
            self.errors.append("%s: ENQ never accepted" % sample)
            return None
        started = False
        frames = self.astm_frames(self.astm_text(sample))
        for i, frame in enumerate(frames):
            for _ in range(6):      # E1381: a NAKed frame is retransmitted, at most 6 times
                try:
                    sock.sendall(frame)
                except OSError:
                    return "unacked" if started else None
                started = True
                reply = self.astm_reply(sock)
                if reply is None:
                    return "unacked"
                if reply == ACK or (reply == EOT and i < len(frames) - 1):
                    break
                if reply != NAK:
                    self.errors.append("%s: frame answered 0x%02X" % (sample, reply))
                    return "unacked"
            else:
                self.errors.append("%s: frame %d NAKed 6 times" % (sample, i + 1))
                try:
                    sock.sendall(bytes([EOT]))
                except OSError:
                    pass
                return "rejected"
        try:
            sock.sendall(bytes([EOT]))
        except OSError:
            pass                     # the last frame's ACK came: the message is acknowledged
        return "acked"

    # ----- HL7 v2 over MLLP -----

    def hl7_text(self, sample):
        ts = now_hl7()
        segments = ["MSH|^~\\&|CRASHTEST|%s|LABGATE|LAB|%s||ORU^R01^ORU_R01|%s|P|2.5.1"
                    % (self.prefix, ts, sample),
                    "OBR|1||%s|24323-8^Metabolic panel^LN|||%s" % (sample, ts)]
        for n, (code, units, value) in enumerate(result_values(self.rng, self.rng.randint(1, 6)), 1):
            segments.append("OBX|%d|NM|%s^%s^L||%s|%s|||||F|||%s" % (n, code, code, value, units, ts))
        return ("\r".join(segments) + "\r").encode()

    def hl7_message(self, sock, sample):
        frame = VT + self.hl7_text(sample) + FS + CR
        started = False
        buf = b""
        for attempt in range(5):    # AR/AE "not stored, send again later": same MSH-10 again
            try:
                sock.sendall(frame)
            except OSError:
                return "unacked" if started else None
            started = True
            while True:
                end = buf.find(FS + CR)
                if end >= 0:
                    break
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    self.errors.append("%s: no ACK within %.0f s" % (sample, SENDER_TIMEOUT))
                    return "unacked"
                except OSError:
                    return "unacked"
                if not data:
                    return "unacked"
                buf += data
            answer, buf = buf[:end], buf[end + 2:]
            code, control = "", ""
            for segment in answer.lstrip(VT).decode("utf-8", "replace").split("\r"):
                fields = segment.split("|")
                if fields[0] == "MSA" and len(fields) > 2:
                    code, control = fields[1], fields[2]
            if control != sample:
                self.errors.append("%s: ACK for MSH-10 '%s'" % (sample, control))
                return "unacked"
            if code == "AA":
                return "acked"
            self.errors.append("%s: answered %s (attempt %d)" % (sample, code, attempt + 1))
            time.sleep(1.0)
        return "rejected"


# ---------------------------------------------------------------------------------------------
# The engine

class Engine:
    def __init__(self, binary, config, http_port, workdir):
        self.binary, self.config, self.http_port, self.workdir = binary, config, http_port, workdir
        self.proc = None
        self.run_no = 0
        self.stderr_path = None

    def start(self):
        self.run_no += 1
        self.stderr_path = os.path.join(self.workdir, "labgated-%03d.err" % self.run_no)
        env = dict(os.environ, LABGATE_ADMIN_PASSWORD=ADMIN_PASSWORD)
        cmd = [self.binary, "--config", self.config]
        setpriv = shutil.which("setpriv")
        if setpriv:                  # dies with this script even if the script is SIGKILLed
            cmd = [setpriv, "--pdeathsig", "KILL", "--"] + cmd
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=env, cwd=self.workdir)
        t0 = time.monotonic()
        while time.monotonic() - t0 < START_TIMEOUT:
            if self.proc.poll() is not None:
                if "already in use" in self.stderr_tail():
                    raise PortClash(self.stderr_tail())
                raise Abort("labgated exited with status %s at start-up:\n%s"
                            % (self.proc.returncode, self.stderr_tail()))
            try:
                self.health()
                return time.monotonic() - t0
            except (OSError, ValueError):
                time.sleep(0.1)
        raise Abort("labgated did not answer /health within %.0f s" % START_TIMEOUT)

    def health(self):
        url = "http://127.0.0.1:%d/health" % self.http_port
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:   # 503 and the like: up, but not healthy
            raise OSError("GET /health: HTTP %d" % e.code)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self):
        """SIGTERM and wait; the exit status (None when it had to be killed)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def stderr_tail(self, lines=30):
        try:
            with open(self.stderr_path, "rb") as f:
                text = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(text[-lines:])
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------
# The test

def write_config(tmp, http_port, astm_port, hl7_port, lis_port):
    mappings = os.path.join(REPO, "tests", "data", "integration", "mappings.csv")
    lines = [
        "# written by tests/crash/kill_loop.py",
        "data.dir = %s" % os.path.join(tmp, "data"),
        "http.listen = 127.0.0.1:%d" % http_port,
        "phi.patterns = %s" % os.path.join(REPO, "config", "phi-patterns.json"),
        "log.console = false",
        "log.level = information",
        "connectors = astm, hl7",
        "connector.astm.kind = astm-tcp",
        "connector.astm.listen = 127.0.0.1:%d" % astm_port,
        "connector.astm.instrument = crash-astm",
        "connector.astm.mappings = %s" % mappings,
        "connector.astm.destinations = lis",
        "connector.hl7.kind = hl7-mllp",
        "connector.hl7.listen = 127.0.0.1:%d" % hl7_port,
        "connector.hl7.instrument = crash-hl7",
        "connector.hl7.mappings = %s" % mappings,
        "connector.hl7.destinations = lis",
        "connector.hl7.hl7.sample_id_field = OBR-3",
        "destinations = lis",
        "destination.lis.kind = hl7-mllp",
        "destination.lis.host = 127.0.0.1",
        "destination.lis.port = %d" % lis_port,
        "destination.lis.connect_timeout_seconds = 2",
        "destination.lis.ack_timeout_seconds = 30",
        "destination.lis.retry_initial_ms = 100",
        "destination.lis.retry_max_ms = 1000",
        "destination.lis.pipeline_depth = %d" % PIPELINE_DEPTH,
    ]
    os.makedirs(os.path.join(tmp, "data"), exist_ok=True)
    path = os.path.join(tmp, "labgate.properties")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def wait_drained(engine, lis, quiet, timeout):
    """Until every destination's queue_depth is 0 and the LIS has heard nothing for `quiet` s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not engine.running():
            raise Abort("labgated exited with status %s while draining:\n%s"
                        % (engine.proc.returncode, engine.stderr_tail()))
        try:
            h = engine.health()
            depth = sum(int(d.get("queue_depth", 0)) for d in h.get("destinations", []))
        except (OSError, ValueError):
            depth = -1
        _, last = lis.snapshot()
        if depth == 0 and time.monotonic() - last >= quiet:
            return time.monotonic() - t0
        time.sleep(0.2)
    raise Abort("the queue did not drain within %.0f s (/health: %s)" % (timeout, engine.health()))


# destination.lis.pipeline_depth (docs/adr/0018-pipelined-delivery.md): up to this many outcomes
# the LIS acknowledged may wait for their commit while the next message is sent, so a kill can
# leave that many plus the one on the wire to be sent again (the default, written out).
PIPELINE_DEPTH = 32


def check(senders, lis_messages, kills):
    """Compares what the senders were told with what the LIS got. Returns (counts, problems)."""
    records = {}
    order = {}
    for s in senders:
        records.update(s.records)
        order[s.prefix] = s.order
    copies = {}                      # sample id -> [MSH-10 of each copy]
    payloads = {}
    first_arrival = []
    unknown = set()
    for msh10, samples, payload in lis_messages:
        for sample in samples:
            if sample not in records:
                unknown.add(sample)
                continue
            if sample not in copies:
                first_arrival.append(sample)
            copies.setdefault(sample, []).append(msh10)
            payloads.setdefault(sample, set()).add(payload)
    acked = [i for i, (_, st) in records.items() if st == "acked"]
    lost = sorted(i for i in acked if i not in copies)
    duplicates = {i: c for i, c in copies.items() if len(c) > 1}
    bad_duplicates = {i: c for i, c in duplicates.items() if len(set(c)) > 1}
    extra_copies = sum(len(c) - 1 for c in duplicates.values())
    committed_unacked = sorted(i for i, (_, st) in records.items() if st != "acked" and i in copies)
    # Per sender, messages are committed one after the other and the queue is in order, so
    # the first arrivals of one sender's samples come in sending order.
    out_of_order = []
    position = {}
    for prefix, ids in order.items():
        for n, i in enumerate(ids):
            position[i] = (prefix, n)
    highest = {}
    for i in first_arrival:
        prefix, n = position[i]
        if n < highest.get(prefix, -1):
            out_of_order.append(i)
        highest[prefix] = max(n, highest.get(prefix, -1))
    counts = {
        "sent": len(records),
        "acknowledged": len(acked),
        "delivered": len(copies),
        "duplicates": len(duplicates),
        "committed_unacked": len(committed_unacked),
        "lost": len(lost),
        "unacked": sum(1 for _, st in records.values() if st == "unacked"),
        "rejected": sum(1 for _, st in records.values() if st == "rejected"),
        "lis_messages": len(lis_messages),
        "extra_copies": extra_copies,
        "out_of_order": len(out_of_order),
        "unknown": len(unknown),
        "same_bytes": sum(1 for i in duplicates if len(payloads[i]) == 1),
    }
    problems = []
    for i in lost:
        problems.append("LOST: %s (acknowledged in cycle %d) never reached the LIS" % (i, records[i][0]))
    for i, c in sorted(bad_duplicates.items()):
        problems.append("DUPLICATE with different MSH-10s: %s arrived %d times as %s (cycle %d, %s)"
                        % (i, len(c), ", ".join(c), records[i][0], records[i][1]))
    if extra_copies > kills * (PIPELINE_DEPTH + 1):
        problems.append("%d extra copies for %d kills: more than the %d deliveries per kill that may "
                        "be acknowledged but not yet recorded, plus the one on the wire"
                        % (extra_copies, kills, PIPELINE_DEPTH))
    for i in out_of_order:
        problems.append("OUT OF ORDER: %s first arrived after a later message of its sender" % i)
    for i in sorted(unknown):
        problems.append("UNKNOWN: the LIS got sample %s that no sender sent" % i)
    for i, (cycle, st) in sorted(records.items()):
        if st == "rejected":
            problems.append("REJECTED: %s (cycle %d) was refused by the engine" % (i, cycle))
    return counts, problems, duplicates, records


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labgated", default=os.path.join(REPO, "build-perf", "bin", "labgated"))
    ap.add_argument("--short", action="store_true", help="the CI run: 5 cycles, 2 ASTM + 2 HL7 senders")
    ap.add_argument("--cycles", type=int, help="kill cycles (default 50, --short 5)")
    ap.add_argument("--astm", type=int, help="ASTM sender connections (default 4, --short 2)")
    ap.add_argument("--hl7", type=int, help="HL7 sender connections (default 4, --short 2)")
    ap.add_argument("--min-delay", type=float, default=0.3, help="earliest kill after the load starts (s)")
    ap.add_argument("--max-delay", type=float, default=2.0, help="latest kill after the load starts (s)")
    ap.add_argument("--seed", type=int, help="random seed (kill delays, message sizes, values)")
    ap.add_argument("--drain-timeout", type=float, default=900.0,
                    help="bound on the final drain; only a hang should reach it (s)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (data, logs)")
    args = ap.parse_args()
    cycles = args.cycles if args.cycles is not None else (5 if args.short else 50)
    n_astm = args.astm if args.astm is not None else (2 if args.short else 4)
    n_hl7 = args.hl7 if args.hl7 is not None else (2 if args.short else 4)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    rng = random.Random(seed)
    binary = os.path.abspath(args.labgated)
    if not os.access(binary, os.X_OK):
        print("kill_loop: %s is not an executable labgated" % binary, file=sys.stderr)
        return 2

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)

    tmp = tempfile.mkdtemp(prefix="labgate-crash-")
    lis = FakeLis()
    lis.start()
    http_port, astm_port, hl7_port = free_port(), free_port(), free_port()
    config = write_config(tmp, http_port, astm_port, hl7_port, lis.port)
    engine = Engine(binary, config, http_port, tmp)
    senders = ([Sender("astm", i + 1, astm_port, rng.randrange(1 << 31)) for i in range(n_astm)] +
               [Sender("hl7", i + 1, hl7_port, rng.randrange(1 << 31)) for i in range(n_hl7)])

    def start_engine():
        # Ports are picked free and bound later by labgated; a test running beside this one may
        # take one in between. Then the configuration gets new ports (same data directory).
        for attempt in range(5):
            try:
                return engine.start()
            except PortClash as e:
                print("kill_loop: port taken, new ports (%s)" % e.args[0].strip().splitlines()[-1],
                      flush=True)
                ports = free_port(), free_port(), free_port()
                write_config(tmp, ports[0], ports[1], ports[2], lis.port)
                engine.http_port = ports[0]
                for s in senders:
                    s.port = ports[1] if s.kind == "astm" else ports[2]
        raise Abort("labgated could not listen on free ports 5 times in a row")
    print("kill_loop: labgated %s, %d cycles, %d ASTM + %d HL7 senders, seed %d, dir %s"
          % (binary, cycles, n_astm, n_hl7, seed, tmp), flush=True)
    t_start = time.monotonic()
    status = 2
    try:
        for cycle in range(1, cycles + 1):
            up = start_engine()
            stop = threading.Event()
            before = sum(len(s.records) for s in senders)
            acked_before = sum(sum(1 for _, st in s.records.values() if st == "acked") for s in senders)
            threads = [threading.Thread(target=s.run_cycle, args=(cycle, stop), daemon=True,
                                        name="sender-%s" % s.prefix) for s in senders]
            for t in threads:
                t.start()
            delay = rng.uniform(args.min_delay, args.max_delay)
            time.sleep(delay)
            if not engine.running():
                raise Abort("labgated exited by itself (status %s) in cycle %d:\n%s"
                            % (engine.proc.returncode, cycle, engine.stderr_tail()))
            engine.kill()
            stop.set()
            for t in threads:
                t.join(SENDER_TIMEOUT + 30)
                if t.is_alive():
                    raise Abort("sender %s still blocked 150 s after the kill" % t.name)
            sent = sum(len(s.records) for s in senders) - before
            acked = sum(sum(1 for _, st in s.records.values() if st == "acked") for s in senders) - acked_before
            print("cycle %d/%d: up in %.1f s, killed after %.2f s; sent %d, acknowledged %d, "
                  "in flight %d; LIS has %d messages"
                  % (cycle, cycles, up, delay, sent, acked, sent - acked, len(lis.snapshot()[0])),
                  flush=True)

        up = start_engine()
        drained = wait_drained(engine, lis, 2.0, args.drain_timeout)
        final_health = engine.health()
        exit_status = engine.stop()
        messages, _ = lis.snapshot()
        counts, problems, duplicates, records = check(senders, messages, cycles)
        print("final start: up in %.1f s, queue drained and LIS quiet after %.1f s; "
              "labgated stopped with status %s" % (up, drained, exit_status))
        for d in final_health.get("destinations", []):
            print("health: destination %s delivered=%s dead_letter=%s queue_depth=%s"
                  % (d.get("name"), d.get("delivered"), d.get("dead_letter"), d.get("queue_depth")))
        for c in final_health.get("connectors", []):
            print("health: connector %s accepted=%s duplicate=%s refused=%s failed=%s"
                  % (c.get("name"), c.get("messages_accepted"), c.get("messages_duplicate"),
                     c.get("messages_refused"), c.get("messages_failed")))
        for i, c in sorted(duplicates.items()):
            print("duplicate: %s (cycle %d, %s) arrived %d times, MSH-10 %s"
                  % (i, records[i][0], records[i][1], len(c), ", ".join(sorted(set(c)))))
        for s in senders:
            for e in s.errors[:10]:
                print("sender %s: %s" % (s.prefix, e))
        if exit_status != 0:
            problems.append("labgated exited with status %s after SIGTERM:\n%s"
                            % (exit_status, engine.stderr_tail()))
        for p in problems:
            print(p)
        print("details: in_flight_at_kill=%(unacked)d rejected=%(rejected)d "
              "lis_messages=%(lis_messages)d extra_copies=%(extra_copies)d "
              "duplicates_same_bytes=%(same_bytes)d out_of_order=%(out_of_order)d "
              "unknown=%(unknown)d" % counts)
        print("elapsed %.1f s, seed %d" % (time.monotonic() - t_start, seed))
        print(("cycles=%d sent=%d acknowledged=%d delivered=%d duplicates=%d "
               "committed_unacked=%d lost=%d") % (cycles, counts["sent"], counts["acknowledged"],
                                                  counts["delivered"], counts["duplicates"],
                                                  counts["committed_unacked"], counts["lost"]),
              flush=True)
        status = 1 if problems else 0
        if problems:
            print("kill_loop: FAILED (labgated log: %s)" % os.path.join(tmp, "data", "logs", "labgated.log")
                  + ("" if args.keep else "; rerun with --keep --seed %d to keep it" % seed))
    except Abort as e:
        print("kill_loop: cannot run: %s" % e, file=sys.stderr, flush=True)
        status = 2
    except KeyboardInterrupt as e:
        print("kill_loop: interrupted (%s)" % (e or "SIGINT"), file=sys.stderr, flush=True)
        status = 2
    finally:
        engine.kill()
        lis.close()
        if args.keep:
            print("kill_loop: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
