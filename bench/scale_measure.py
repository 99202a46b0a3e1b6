#!/usr/bin/env python3
"""Scale (issue 17): the REST API's batch and sample searches, the store's size and a backup and
restore, on a store bench/gen_year filled (bench/README.md "Scale: a year of a busy lab").

    bench/scale_measure.py --data-dir DIR [--labgated build-rel/bin/labgated]
                           [--labgate build-rel/bin/labgate] [--seconds 3] [--no-backup]
                           [--only PREFIX]
    bench/scale_measure.py --smoke --gen-year BIN --labgated BIN --labgate BIN

Starts the real labgated on DIR (a temporary configuration: loopback HTTP, no connector, a new
key file beside DIR, DIR.kek, so that backups can be taken), logs in as the first administrator (created on this first
start), and sends each request of the console's searches back to back on one keep-alive
connection for --seconds (at least 20 times), printing p50/p99. The filter values (a sample id,
an instrument, a month) are read from the store so that every search finds something. Then
`POST /api/v1/backups` (timed, size) and `labgate restore` of that file into a new directory
(timed).

The store's size: the file, and per table and index from SQLite's dbstat virtual table when the
library has it. SQLite only: the PostgreSQL back end will need pg_total_relation_size here.

--smoke (the ctest bench_scale_smoke): gen_year writes ~5,000 results into a temporary directory
(with a key file: received bytes sealed), then everything above runs once with tiny durations; it checks that each request answers 200 and
finds rows, never how fast.
"""

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_load import Connection, free_port, request  # noqa: E402

ADMIN_PASSWORD = "bench scale passphrase 2617"


def pct(lat, p):
    return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] * 1000.0


def timed(conn, raw, seconds, minimum):
    lat = []
    body = b""
    stop = time.perf_counter() + seconds
    while len(lat) < minimum or time.perf_counter() < stop:
        t0 = time.perf_counter()
        status, body = conn.exchange(raw)
        lat.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    lat.sort()
    return lat, body


class PgRows:
    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows


class PgDb:
    """The few read-only queries of this script through psql, shaped like sqlite3's (integer
    parameters only)."""

    def __init__(self, url, password_file):
        self.url = url
        with open(password_file) as f:
            self.env = dict(os.environ, PGPASSWORD=f.read().strip())

    def execute(self, sql, params=()):
        for p in params:
            sql = sql.replace("?", str(int(p)), 1)
        out = subprocess.run(["psql", self.url, "-At", "-F", "\x1f", "-c", sql], env=self.env,
                             check=True, capture_output=True, text=True).stdout

        def value(v):
            try:
                return int(v)
            except ValueError:
                return v
        return PgRows([tuple(value(v) for v in line.split("\x1f"))
                       for line in out.splitlines() if line])

    def close(self):
        pass


PG = {}  # url and password_file when measuring a PostgreSQL store


def connect(db_path):
    if PG:
        return PgDb(PG["url"], PG["password_file"])
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)


def store_sizes(db_path):
    out = []
    db = connect(db_path)
    if PG:
        rows = db.execute("SELECT c.relname, CASE c.relkind WHEN 'i' THEN 'index' ELSE 'table' "
                          "END, pg_total_relation_size(c.oid) - CASE c.relkind WHEN 'r' THEN "
                          "pg_indexes_size(c.oid) ELSE 0 END FROM pg_class c JOIN pg_namespace n "
                          "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN "
                          "('r', 'i') ORDER BY 3 DESC").fetchall()
        return [(name, kind, int(size)) for name, kind, size in rows]
    try:
        rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name "
                          "ORDER BY 2 DESC").fetchall()
        kinds = dict(db.execute("SELECT name, type FROM sqlite_master").fetchall())
        out = [(name, kinds.get(name, "table"), size) for name, size in rows]
    except sqlite3.OperationalError as e:
        print(f"(no per-table sizes: {e})")
    finally:
        db.close()
    return out


def counts(db_path):
    db = connect(db_path)
    try:
        out = {}
        for table in ("messages", "samples", "results", "peaks", "findings", "outbound", "audit",
                      "qc_history", "batch_metrics"):
            out[table] = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        out["patient results"] = db.execute(
            "SELECT COUNT(*) FROM results WHERE internal_standard = 0").fetchone()[0]
        return out
    finally:
        db.close()


def probe_values(db_path):
    """A sample id, instruments and a month that exist, taken from the middle of the store."""
    db = connect(db_path)
    try:
        (max_sample,) = db.execute("SELECT MAX(id) FROM samples").fetchone()
        sample_id, sample_instr = db.execute(
            "SELECT s.sample_id, m.instrument FROM samples s JOIN messages m ON m.id = "
            "s.message_id WHERE s.id >= ? AND s.kind = 'unknown' ORDER BY s.id LIMIT 1",
            (max_sample // 2,)).fetchone()
        (lcms,) = db.execute("SELECT instrument FROM messages WHERE connector = 'exports' "
                             "ORDER BY id DESC LIMIT 1").fetchone()
        (chem,) = db.execute("SELECT instrument FROM messages WHERE connector <> 'exports' "
                             "ORDER BY id DESC LIMIT 1").fetchone()
        (first, last) = db.execute(
            "SELECT MIN(received_at), MAX(received_at) FROM messages").fetchone()
        (batch,) = db.execute("SELECT id FROM messages WHERE connector = 'exports' AND id >= "
                              "(SELECT MAX(id) / 2 FROM messages) ORDER BY id LIMIT 1").fetchone()
        # A month in the middle of the store's span (first day of its month to the last).
        mid = db.execute("SELECT received_at FROM messages WHERE id >= (SELECT MAX(id) / 2 FROM "
                         "messages) ORDER BY id LIMIT 1").fetchone()[0]
        month_from = mid[:8] + "01"
        month_to = mid[:8] + "28T23:59:59Z"
        day_from = mid[:10]
        return {"sample_id": sample_id, "sample_instrument": sample_instr, "lcms": lcms,
                "chem": chem, "first": first, "last": last, "batch": batch,
                "month_from": month_from, "month_to": month_to, "day": day_from}
    finally:
        db.close()


def cases(v):
    return [
        ("batches: newest page", "/api/v1/batches"),
        ("batches: state=held", "/api/v1/batches?state=held"),
        ("batches: state=released", "/api/v1/batches?state=released"),
        ("batches: instrument (LC-MS)", f"/api/v1/batches?instrument={v['lcms']}"),
        ("batches: instrument + state=held",
         f"/api/v1/batches?instrument={v['lcms']}&state=held"),
        ("batches: one month", f"/api/v1/batches?from={v['month_from']}&to={v['month_to']}"),
        ("batches: one month, state=held",
         f"/api/v1/batches?from={v['month_from']}&to={v['month_to']}&state=held"),
        ("batch detail (LC-MS, ~1,150 results)", f"/api/v1/batches/{v['batch']}"),
        ("samples: newest page", "/api/v1/samples"),
        ("samples: sample_id (mid-year)", f"/api/v1/samples?sample_id={v['sample_id']}"),
        ("samples: instrument", f"/api/v1/samples?instrument={v['chem']}"),
        ("samples: state=hold", "/api/v1/samples?state=hold"),
        ("samples: one day", f"/api/v1/samples?from={v['day']}T00:00:00Z&to={v['day']}T23:59:59Z"),
        ("samples: instrument + one month + state=hold",
         f"/api/v1/samples?instrument={v['sample_instrument']}&from={v['month_from']}"
         f"&to={v['month_to']}&state=hold"),
        # Not the console's batch and sample searches: the audit trail and received messages
        # (both read the audit table), measured beside them.
        ("audit: newest page", "/api/v1/audit"),
        ("audit: action=outbound.delivered", "/api/v1/audit?action=outbound.delivered"),
        ("messages: newest page", "/api/v1/messages"),
        ("messages: connector=hl7in", "/api/v1/messages?connector=hl7in"),
    ]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="")
    ap.add_argument("--labgated", default=os.path.join(root, "build-rel", "bin", "labgated"))
    ap.add_argument("--labgate", default=os.path.join(root, "build-rel", "bin", "labgate"))
    ap.add_argument("--gen-year", default=os.path.join(root, "build-rel", "bin", "gen_year"))
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--no-backup", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated prefixes of the requests")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--store-url", default="",
                    help="the store is this PostgreSQL database (store.url); no backup then")
    ap.add_argument("--password-file", default="", help="store.password_file")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="labgate-scale-")
    minimum = 20
    try:
        if args.smoke:
            args.data_dir = os.path.join(work, "var")
            os.makedirs(args.data_dir)
            # With encryption at rest (the key file beside the directory, as below): the
            # received bytes are stored sealed and the backup carries body files.
            subprocess.run([args.labgate, "keygen", args.data_dir + ".kek"], check=True,
                           stdout=subprocess.DEVNULL)
            t0 = time.time()
            subprocess.run([args.gen_year, "--data-dir", args.data_dir, "--results", "5000",
                            "--days", "3", "--batch-samples", "24", "--quiet", "--key-file",
                            args.data_dir + ".kek"], check=True, timeout=90)
            print(f"gen_year: {time.time() - t0:.1f} s")
            args.seconds = 0.0
            minimum = 2
        data_dir = os.path.abspath(args.data_dir)
        db_path = os.path.join(data_dir, "labgate.db")
        if args.store_url:
            PG.update(url=args.store_url, password_file=args.password_file)
            db_path = args.store_url
            args.no_backup = True  # labgate backup copies the SQLite file
        elif not os.path.exists(db_path):
            sys.exit(f"no store at {db_path}: run bench/gen_year first")
        n = counts(db_path)
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in n.items()))
        if n["patient results"] == 0 or n["messages"] == 0:
            sys.exit("the store holds no results")
        size = (connect(db_path).execute("SELECT pg_database_size(current_database())")
                .fetchone()[0] if PG else os.path.getsize(db_path))
        print(f"store: {db_path} {size / 2**20:,.1f} MiB")
        print("| table or index | kind | MiB |")
        print("|---|---|---|")
        for name, kind, b in store_sizes(db_path):
            if b >= (1 << 20) or args.smoke:
                print(f"| {name} | {kind} | {b / 2**20:,.1f} |")
        values = probe_values(db_path)

        # The key file beside the data directory, kept: the first start wraps a data key with
        # it, and later runs on the same store must use the same one.
        key_file = data_dir.rstrip("/") + ".kek"
        if not os.path.exists(key_file):
            subprocess.run([args.labgate, "keygen", key_file], check=True,
                           stdout=subprocess.DEVNULL)
        port = free_port()
        config = os.path.join(work, "labgate.properties")
        with open(config, "w") as f:
            f.write(f"data.dir = {data_dir}\n"
                    f"http.listen = 127.0.0.1:{port}\n"
                    f"security.password.blocklist = "
                    f"{os.path.join(root, 'config', 'common-passwords.txt')}\n"
                    f"phi.patterns = {os.path.join(root, 'config', 'phi-patterns.json')}\n"
                    f"security.key_file = {key_file}\n"
                    f"backup.dir = {os.path.join(work, 'backups')}\n"
                    + (f"store.url = {args.store_url}\n"
                       f"store.password_file = {args.password_file}\n" if PG else "") +
                    "log.level = warning\n"
                    "connectors =\n"
                    "destinations =\n")
        env = dict(os.environ, LABGATE_ADMIN_PASSWORD=ADMIN_PASSWORD)
        log = open(os.path.join(work, "labgated.log"), "w")
        t0 = time.time()
        engine = subprocess.Popen([args.labgated, "--config", config], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 120
            while True:
                try:
                    Connection(port).exchange(request("GET", "/health"))
                    break
                except OSError:
                    if engine.poll() is not None or time.time() > deadline:
                        log.flush()
                        with open(os.path.join(work, "labgated.log")) as f:
                            sys.stderr.write(f.read()[-3000:])
                        sys.exit("labgated did not start")
                    time.sleep(0.1)
            print(f"labgated answered /health {time.time() - t0:.1f} s after its start")
            conn = Connection(port)
            status, body = conn.exchange(request("POST", "/api/v1/sessions", body={
                "org": "default", "user": "admin", "password": ADMIN_PASSWORD}))
            if status != 201:
                sys.exit(f"login failed: HTTP {status} {body[:300]!r}")
            token = json.loads(body)["token"]
            print(f"filters: {values}")
            print("| request | n | p50 ms | p99 ms | max ms | items on the page |")
            print("|---|---|---|---|---|---|")
            for name, path in cases(values):
                if args.only and not any(name.startswith(o) for o in args.only.split(",")):
                    continue
                lat, body = timed(conn, request("GET", path, token), args.seconds, minimum)
                doc = json.loads(body)
                if "items" in doc:
                    items = len(doc["items"])
                    if items == 0 and "held" not in path and "hold" not in path:
                        raise RuntimeError(f"{path} found nothing")
                else:  # one batch: its patient results
                    items = sum(len(x.get("results", [])) for x in doc.get("samples", []))
                print(f"| `{name}` | {len(lat)} | {pct(lat, 50):.1f} | {pct(lat, 99):.1f} | "
                      f"{lat[-1] * 1000:.1f} | {items} |", flush=True)
            if not args.no_backup:
                t0 = time.perf_counter()
                status, body = conn.exchange(request("POST", "/api/v1/backups", token))
                took = time.perf_counter() - t0
                if status != 201:
                    raise RuntimeError(f"backup: HTTP {status} {body[:300]!r}")
                made = json.loads(body)
                print(f"backup: {made['name']} {made['size'] / 2**20:,.1f} MiB in {took:.1f} s "
                      f"(database {made['manifest']['database_bytes'] / 2**20:,.1f} MiB)")
                restored = os.path.join(work, "restored")
                t0 = time.perf_counter()
                subprocess.run([args.labgate, "restore",
                                os.path.join(work, "backups", made["name"]), "--key-file",
                                key_file, "--data-dir", restored], check=True,
                               stdout=subprocess.DEVNULL)
                print(f"restore: {time.perf_counter() - t0:.1f} s (decrypt, integrity_check, "
                      f"counts, audit chain)")
        except Exception:
            log.flush()
            with open(os.path.join(work, "labgated.log")) as f:
                sys.stderr.write("labgated's log ends:\n" + f.read()[-2000:])
            raise
        finally:
            engine.send_signal(signal.SIGTERM)
            try:
                engine.wait(timeout=60)
            except subprocess.TimeoutExpired:
                engine.kill()
            log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
