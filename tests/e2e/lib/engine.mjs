// A real, seeded labgated for the browser tests and for looking at the console by hand (dev.mjs).
//
// startEngine() writes a configuration into a new temporary folder, starts labgated (env
// LABGATE_BIN, default <repo>/build-test/bin/labgated) on free loopback ports with a test LIS
// (lib/lis.mjs) as its destination, creates the test users through the REST API, drops the earlier
// batches (the QC history) and then the batch to review into the watched folder, and waits until
// that batch is held. env LABGATE_CONSOLE_DIR sets console.dir (serve the console from a folder,
// e.g. console/web/dist, instead of the built-in copy). env LABGATE_KEEP_TEST_DIRS keeps the
// temporary folder after stop().
//
// The passwords here are for the tests only: they exist in a throw-away data folder.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync,
  closeSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startLis } from "./lis.mjs";
import { freshCode } from "./totp.mjs";

export const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const dataDir = path.join(repoDir, "tests/data/e2e");
export const expected = JSON.parse(readFileSync(path.join(dataDir, "expected.json"), "utf8"));

export const kAdminPassword = "Harbour-Lantern-Quill-2047";
export const kOrg = "default";
export const kInstrument = "qqq-e2e";
export const kConnector = "lcms1";
export const kMappingSet = "steroids"; // the set the mappings file steroids.csv is stored as

/** The test users: role, printed name and (after the first login's change) lasting password. */
const kUsers = {
  reviewer: { roles: ["qa-reviewer"], printedName: "Robin Reviewer", password: "Copper-Meadow-Signal-5803" },
  approver: { roles: ["qa-approver"], printedName: "Avery Approver", password: "Tidal-Juniper-Ledger-9147",
    totp: true },
  lisadmin: { roles: ["lis-admin"], printedName: "Lane Integrator", password: "Granite-Willow-Beacon-2265" },
  auditor: { roles: ["auditor"], printedName: "Aude Trail", password: "Saffron-Harbor-Compass-7732" },
};
const kInitialPassword = "Initial-Pelican-Drift-4410";

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` (async, truthy = done) every `interval` ms until `timeout`; its last value. */
export async function waitUntil(check, timeout = 30000, interval = 200) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value || Date.now() >= deadline) return value;
    await sleep(interval);
  }
}

function configText(c) {
  const lines = {
    "data.dir": c.dataDir,
    "http.listen": `127.0.0.1:${c.httpPort}`,
    "phi.patterns": path.join(repoDir, "config/phi-patterns.json"),
    "log.level": "information",
    connectors: kConnector,
    [`connector.${kConnector}.kind`]: "file-drop",
    [`connector.${kConnector}.inbox`]: c.inbox,
    [`connector.${kConnector}.poll_ms`]: "100",
    [`connector.${kConnector}.settle_ms`]: "200",
    [`connector.${kConnector}.instrument`]: kInstrument,
    [`connector.${kConnector}.mappings`]: path.join(dataDir, "steroids.csv"),
    [`connector.${kConnector}.rules`]: path.join(dataDir, "rules.json"),
    [`connector.${kConnector}.destinations`]: "lis",
    [`connector.${kConnector}.phi.policy`]: "refuse",
    destinations: "lis",
    "destination.lis.kind": "hl7-mllp",
    "destination.lis.host": "127.0.0.1",
    "destination.lis.port": String(c.lisPort),
    "destination.lis.ack_timeout_seconds": "5",
    "destination.lis.connect_timeout_seconds": "2",
    "destination.lis.retry_initial_ms": "200",
    "destination.lis.retry_max_ms": "2000",
    // Cheap password hashing: the tests log in many times.
    "security.argon2.memory_kib": "1024",
    "security.argon2.iterations": "1",
  };
  if (process.env.LABGATE_CONSOLE_DIR) {
    lines["console.dir"] = path.resolve(process.env.LABGATE_CONSOLE_DIR);
  }
  let text = "# written by tests/e2e/lib/engine.mjs\n";
  for (const [key, value] of Object.entries(lines)) text += `${key} = ${value}\n`;
  return text;
}

/** A small JSON client of one engine; `token` makes it a Bearer client. */
export class Api {
  constructor(url, token = "") {
    this.url = url;
    this.token = token;
  }

  async request(method, apiPath, body, headers = {}) {
    const h = { ...headers };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    let payload;
    if (body !== undefined) {
      if (typeof body === "string") {
        payload = body;
        h["Content-Type"] ??= "text/csv";
      } else {
        payload = JSON.stringify(body);
        h["Content-Type"] = "application/json";
      }
    }
    const res = await fetch(this.url + apiPath, { method, headers: h, body: payload });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, json, text };
  }

  get(p) {
    return this.request("GET", p);
  }

  post(p, body) {
    return this.request("POST", p, body === undefined ? {} : body);
  }

  /** Throws with the status and the problem's detail (never a password) unless 2xx. */
  static ok(answer, what) {
    if (answer.status < 200 || answer.status > 299) {
      const detail = answer.json?.detail ?? answer.json?.title ?? "";
      throw new Error(`${what}: HTTP ${answer.status} ${detail}`);
    }
    return answer.json;
  }

  /** A Bearer client of a new session of `user`. */
  async login(user, password, totp = "") {
    const body = { org: kOrg, user, password };
    if (totp) body.totp = totp;
    const r = await this.request("POST", "/api/v1/sessions", body);
    const json = Api.ok(r, `login of ${user}`);
    return new Api(this.url, json.token);
  }
}

async function createUsers(api, admin) {
  const users = {};
  for (const [name, u] of Object.entries(kUsers)) {
    Api.ok(await admin.post("/api/v1/users", { username: name, printed_name: u.printedName,
      roles: u.roles, password: kInitialPassword }), `creating ${name}`);
    const first = await api.login(name, kInitialPassword);
    Api.ok(await first.post("/api/v1/me/password", { current_password: kInitialPassword,
      new_password: u.password }), `password change of ${name}`);
    users[name] = { username: name, password: u.password, printedName: u.printedName,
      roles: u.roles };
    if (u.totp) {
      const session = await api.login(name, u.password);
      const enrolment = Api.ok(await session.post("/api/v1/me/totp", { password: u.password }),
        `TOTP enrolment of ${name}`);
      Api.ok(await session.post("/api/v1/me/totp/confirm", { code: await freshCode(enrolment.secret) }),
        `TOTP confirmation of ${name}`);
      users[name].totpSecret = enrolment.secret;
    }
  }
  return users;
}

/** Writes a data file into the inbox under a hidden temporary name, then renames it in. */
function dropFile(inbox, source, name) {
  const tmp = path.join(inbox, `.${name}.tmp`);
  writeFileSync(tmp, readFileSync(path.join(dataDir, source)));
  renameSync(tmp, path.join(inbox, name));
}

async function batchNamed(admin, name) {
  const r = await admin.get(`/api/v1/batches?instrument=${kInstrument}&limit=100`);
  Api.ok(r, "GET /api/v1/batches");
  return (r.json.items ?? []).find((b) => b.source_name === name) ?? null;
}

/** Drops one file and waits until its batch is stored; the batch summary. */
async function dropAndWait(admin, inbox, source, name) {
  dropFile(inbox, source, name);
  const batch = await waitUntil(() => batchNamed(admin, name), 30000);
  if (!batch) {
    throw new Error(`${name} (${source}) was not imported within 30 s: see ${inbox}/rejected`);
  }
  return batch;
}

/**
 * Starts a seeded engine. Returns {url, port, dir, users: {name: {username, password,
 * printedName, roles, totpSecret?}}, admin: {username, password}, heldBatch: {id, sourceName},
 * historyBatches: [ids], expected, lis, api(), running(), stderr(), stop()}.
 */
export async function startEngine(options = {}) {
  const bin = path.resolve(repoDir, process.env.LABGATE_BIN ?? "build-test/bin/labgated");
  const dir = mkdtempSync(path.join(os.tmpdir(), "labgate-e2e-"));
  const c = {
    dataDir: path.join(dir, "data"),
    inbox: path.join(dir, "inbox"),
    httpPort: options.httpPort ?? (await freePort()),
  };
  mkdirSync(c.dataDir, { recursive: true });
  mkdirSync(c.inbox, { recursive: true });
  const lis = await startLis(options.lisPort ?? 0);
  c.lisPort = lis.port;
  const configPath = path.join(dir, "labgate.properties");
  writeFileSync(configPath, configText(c));

  const out = openSync(path.join(dir, "labgated.stdout"), "w");
  const err = openSync(path.join(dir, "labgated.stderr"), "w");
  const child = spawn(bin, ["--config", configPath], {
    cwd: repoDir,
    env: { ...process.env, LABGATE_ADMIN_PASSWORD: kAdminPassword },
    stdio: ["ignore", out, err],
  });
  closeSync(out);
  closeSync(err);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.on("error", (e) => {
      exited = { code: null, signal: null, error: e.message };
      resolve(exited);
    });
  });

  const url = `http://127.0.0.1:${c.httpPort}`;
  const stderrTail = () => {
    try {
      return readFileSync(path.join(dir, "labgated.stderr"), "utf8").split("\n").slice(-15).join("\n");
    } catch {
      return "";
    }
  };

  let stopped = null;
  /**
   * Stops labgated (SIGTERM, SIGKILL after 20 s) and the LIS, removes the folder. Resolves to
   * {code, signal, killed, stderr} (stderr: the last lines labgated wrote there).
   */
  const stop = async () => {
    if (stopped) return stopped;
    let killed = false;
    if (!exited) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        killed = true;
        child.kill("SIGKILL");
      }, 20000);
      await exitPromise;
      clearTimeout(timer);
    }
    stopped = { code: exited.code, signal: exited.signal, killed, stderr: stderrTail() };
    await lis.stop();
    if (!process.env.LABGATE_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    return stopped;
  };

  try {
    const up = await waitUntil(async () => {
      if (exited) return true;
      try {
        const r = await fetch(`${url}/health`);
        return r.status === 200;
      } catch {
        return false;
      }
    }, 30000);
    if (exited || !up) {
      const why = exited
        ? `labgated (${bin}) exited (${exited.error ?? exited.code ?? exited.signal}) before /health answered`
        : "/health did not answer 200 within 30 s";
      throw new Error(`${why}; stderr:\n${stderrTail()}`);
    }

    const api = new Api(url);
    const admin = await api.login("admin", kAdminPassword);
    const users = await createUsers(api, admin);

    const historyBatches = [];
    for (const [i, file] of expected.history_files.entries()) {
      historyBatches.push((await dropAndWait(admin, c.inbox, file, `steroids-run-${i + 1}.txt`)).id);
    }
    const heldName = `steroids-run-${expected.history_files.length + 1}.txt`;
    await dropAndWait(admin, c.inbox, expected.held_file, heldName);
    const held = await waitUntil(async () => {
      const b = await batchNamed(admin, heldName);
      return b && b.state === "held" ? b : null;
    }, 30000);
    if (!held) throw new Error(`${heldName} was imported but is not held`);

    return {
      url,
      port: c.httpPort,
      dir,
      users,
      admin: { username: "admin", password: kAdminPassword },
      heldBatch: { id: held.id, sourceName: heldName },
      historyBatches,
      expected,
      lis,
      /** A Bearer client: anonymous, or a new session of a test user (TOTP handled). */
      async api(user) {
        if (!user) return api;
        if (user === "admin") return api.login("admin", kAdminPassword);
        const u = users[user];
        return api.login(u.username, u.password, u.totpSecret ? await freshCode(u.totpSecret) : "");
      },
      stop,
      running: () => !exited,
      /** The last lines labgated wrote to its stderr. */
      stderr: stderrTail,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
