// The console in a real browser (issue 15): Debian's chromium, headless, driven by playwright-core,
// against a seeded labgated (lib/engine.mjs). One browser context per user. The steps build on
// each other (review, then approval, then the result at the LIS) and run in order.
//
//   node --test tests/e2e/console.test.mjs
//
// env LABGATE_BIN: the labgated to run (default build-test/bin/labgated); LABGATE_SCREENSHOTS:
// where the screenshots go (default build-test/screenshots); LABGATE_CHROMIUM: the browser
// (default /usr/bin/chromium). A missing browser or playwright-core fails the test saying what to
// install. The test output names users and batches, never a password or a one-time code.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { dataDir, expected, kMappingSet, repoDir, startEngine, waitUntil } from "./lib/engine.mjs";
import { resultsOf } from "./lib/lis.mjs";
import { freshCode } from "./lib/totp.mjs";

const kChromium = process.env.LABGATE_CHROMIUM ?? "/usr/bin/chromium";
const kScreenshots = path.resolve(process.env.LABGATE_SCREENSHOTS ?? path.join(repoDir, "build-test/screenshots"));
const kViewport = { width: 1280, height: 800 };
const kTimeout = 20000; // for one thing to appear on a page (ctest runs the sanitized build, in parallel)

function loadPlaywright() {
  const require = createRequire(path.join(repoDir, "console/web/package.json"));
  try {
    return require("playwright-core");
  } catch {
    throw new Error(
      "playwright-core is not installed: run `npm ci` in console/web (scripts/setup.sh does it)");
  }
}

/** Polls an async assertion until it passes or `ms` is over (then throws its last error). */
async function eventually(assertion, ms = kTimeout) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await assertion();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Waits until nothing on the page says "Loading…" (ui.busy) any more. */
async function settled(page) {
  await page.waitForFunction(() => !document.body.innerText.includes("Loading…"), null,
    { timeout: kTimeout });
}

describe("the web console", { concurrency: false }, () => {
  let engine;
  let browser;
  const contexts = {};
  const pages = {};

  /** The page of a user's own browser context (created on first use). */
  async function pageOf(user) {
    if (!pages[user]) {
      contexts[user] = await browser.newContext({ viewport: kViewport, locale: "en-GB" });
      contexts[user].setDefaultTimeout(kTimeout);
      pages[user] = await contexts[user].newPage();
    }
    return pages[user];
  }

  async function goto(page, hashPath) {
    await page.goto(`${engine.url}/#${hashPath}`);
  }

  /** Closes a dialog an earlier (failed) step left open. */
  async function noDialog(page) {
    if (await page.getByRole("dialog").count()) {
      await page.keyboard.press("Escape");
      await page.getByRole("dialog").waitFor({ state: "hidden" }).catch(() => {});
    }
  }

  async function screenshot(page, name) {
    mkdirSync(kScreenshots, { recursive: true });
    await page.screenshot({ path: path.join(kScreenshots, `${name}.png`) });
  }

  /** Logs in through the form with the mouse: password, then the one-time code where enrolled. */
  async function logIn(page, name) {
    const user = engine.users[name];
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await page.getByLabel("Organisation", { exact: true }).fill("default");
    await page.getByLabel("User name", { exact: true }).fill(user.username);
    await page.getByLabel("Password", { exact: true }).fill(user.password);
    await page.getByRole("button", { name: "Log in" }).click();
    if (user.totpSecret) {
      await page.getByRole("alert").filter({ hasText: /one-time code/i }).waitFor();
      await page.getByLabel("One-time code", { exact: true }).fill(await freshCode(user.totpSecret));
      await page.getByRole("button", { name: "Log in" }).click();
    }
    await page.getByRole("button", { name: "Log out" }).waitFor();
  }

  async function logInAt(name, hashPath) {
    const page = await pageOf(name);
    await goto(page, hashPath);
    await logIn(page, name);
    return page;
  }

  const batchPath = () => `/batches/${engine.heldBatch.id}`;

  /** Opens the sign dialog of the batch view and fills it; resolves to the dialog. */
  async function fillSignDialog(page, { meaning, password, totp, reason }) {
    await noDialog(page);
    await page.getByRole("button", { name: /^Sign(…|\.\.\.)$/ }).click();
    const dialog = page.getByRole("dialog", { name: `Sign batch ${engine.heldBatch.id}` });
    await dialog.waitFor();
    const select = dialog.getByLabel("Meaning", { exact: true });
    if (await select.isEnabled()) {
      await select.selectOption(meaning);
    } else { // the only meaning this user may sign: shown, not chosen
      assert.equal(await select.inputValue(), meaning, "the one meaning offered");
    }
    if (reason) await dialog.getByLabel("Reason", { exact: true }).fill(reason);
    await dialog.getByLabel("Password", { exact: true }).fill(password);
    if (totp) await dialog.getByLabel("One-time code", { exact: true }).fill(totp);
    return dialog;
  }

  /** The OBX segments (with their message) of `lisCode` for sample `sampleId` the LIS received. */
  function lisResults(sampleId, lisCode) {
    return engine.lis.messages.flatMap((message) => resultsOf(message, sampleId)
      .filter((obx) => (obx[3] ?? "").split("^")[0] === lisCode)
      .map((obx) => ({ obx, message })));
  }

  before(async () => {
    if (!existsSync(kChromium)) {
      throw new Error(`chromium is not installed at ${kChromium}: apt-get install chromium ` +
        "(scripts/setup.sh does it)");
    }
    const { chromium } = loadPlaywright();
    engine = await startEngine();
    browser = await chromium.launch({ executablePath: kChromium, headless: true,
      args: ["--no-sandbox"] });
  });

  after(async () => {
    await browser?.close();
    await engine?.stop();
  });

  /** Runs last: labgated ran through every step and stops with exit status 0 (ASan-clean). */
  async function stopsCleanly(t) {
    t.diagnostic(`screenshots in ${kScreenshots}`);
    assert.ok(engine.running(), `labgated stopped during the test; its stderr ends:\n${engine.stderr()}`);
    await browser.close();
    const end = await engine.stop();
    assert.ok(!end.killed, "labgated did not exit within 20 s of SIGTERM (killed)");
    assert.equal(end.code, 0, `labgated's exit status after SIGTERM; its stderr ends:\n${end.stderr}`);
  }

  it("logs in with the keyboard alone", async () => {
    const page = await pageOf("reviewer");
    await goto(page, "/review");
    await page.getByRole("button", { name: "Log in" }).waitFor();
    const user = engine.users.reviewer;
    const values = { "Organisation": "default", "User name": user.username, "Password": user.password };
    // Type into whichever field has the focus, Tab to the next; Enter in the password submits.
    for (let i = 0; i < 8; ++i) {
      const label = await page.evaluate(() => {
        const el = document.activeElement;
        return el && el.labels && el.labels[0] ? el.labels[0].textContent.trim() : "";
      });
      const name = Object.keys(values).find((l) => label.startsWith(l));
      if (name) {
        await page.keyboard.press("Control+A");
        await page.keyboard.type(values[name]);
        if (name === "Password") {
          await page.keyboard.press("Enter");
          break;
        }
      }
      await page.keyboard.press("Tab");
    }
    await page.getByRole("button", { name: "Log out" }).waitFor();
    for (const link of ["Dashboard", "Review", "Results", "Mappings"]) {
      assert.equal(await page.getByRole("link", { name: link, exact: true }).count(), 1, link);
    }
    assert.match(page.url(), /#\/review/, "the login returns to the page asked for");
  });

  it("shows the dashboard", async () => {
    const page = await logInAt("lisadmin", "/");
    await page.getByRole("heading", { level: 1 }).first().waitFor();
    await settled(page);
    assert.equal(await page.getByRole("alert").count(), 0, "no error on the dashboard");
    await screenshot(page, "dashboard");
  });

  it("opens the held batch from the review queue", async () => {
    const page = await pageOf("reviewer");
    await page.getByRole("link", { name: "Review", exact: true }).click();
    const link = page.getByRole("table").getByRole("link", { name: engine.heldBatch.sourceName });
    await link.click();
    await page.waitForURL(new RegExp(`#/batches/${engine.heldBatch.id}$`));
    await page.getByRole("heading", { level: 1, name: `Batch ${engine.heldBatch.id}` }).waitFor();
  });

  it("draws the charts from the batch's data", async () => {
    const page = await pageOf("reviewer");
    await settled(page);
    const chart = (label) => page.locator(`svg[role="img"][aria-label^="${label}"]`);
    const count = (label, marks) => chart(label).locator(marks).count();
    const qcValues = expected.qc_per_level_per_batch * (expected.history_files.length + 1);
    for (const analyte of expected.analytes) {
      await page.getByRole("heading", { level: 2, name: analyte, exact: true }).waitFor();

      const curve = `Calibration curve of ${analyte}`;
      await chart(curve).waitFor();
      assert.equal(await count(curve, "circle.point"), expected.calibrators, `${curve}: calibrators`);
      assert.equal(await count(curve, "circle.point.excluded"),
        expected.excluded_calibrators[analyte], `${curve}: excluded calibrators`);
      assert.ok(await count(curve, "path.curve") >= 1, `${curve}: the fitted curve`);

      for (const level of expected.qc_levels) {
        const lj = `Levey-Jennings chart of ${analyte} ${level}`;
        assert.equal(await chart(lj).count(), 1, `${lj}: one chart`);
        assert.equal(await count(lj, "circle.point"), qcValues, `${lj}: QC values`);
        assert.equal(await count(lj, "line.mean"), 1, `${lj}: the mean`);
        for (const sd of ["line.sd-1", "line.sd-2", "line.sd-3"]) {
          assert.equal(await count(lj, sd), 2, `${lj}: ${sd} on both sides`);
        }
      }

      const is = `Internal standard response of ${analyte}`;
      assert.equal(await count(is, "circle.point"), expected.injections, `${is}: injections`);
    }
    const w = expected.westgard_warning;
    const marked = `Levey-Jennings chart of ${w.analyte} ${w.level}`;
    assert.ok(await count(marked, ".violation") >= 1, `${marked}: the ${w.rule} warning marked`);
    await screenshot(page, "batch");
    // The first analyte's charts at the top of the window (for the README).
    await page.getByRole("heading", { level: 2, name: expected.analytes[0], exact: true })
      .evaluate((el) => el.scrollIntoView({ block: "start" }));
    await screenshot(page, "batch-charts");
    await page.evaluate(() => window.scrollTo(0, 0));
  });

  it("refuses a wrong password in the sign dialog, in words", async () => {
    const page = await pageOf("reviewer");
    const dialog = await fillSignDialog(page, { meaning: "reviewed",
      password: "Not-The-Right-Password-1" });
    await dialog.getByText(`Signing as ${engine.users.reviewer.printedName}`).waitFor();
    await dialog.getByRole("button", { name: "Sign", exact: true }).click();
    const alert = dialog.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /password is wrong/i);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    const focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? "");
    assert.match(focused, /^Sign(…|\.\.\.)$/, "Escape closes the dialog and the focus returns to its button");
  });

  it("signs the batch reviewed", async () => {
    const page = await pageOf("reviewer");
    const dialog = await fillSignDialog(page, { meaning: "reviewed",
      password: engine.users.reviewer.password });
    await dialog.getByRole("button", { name: "Sign", exact: true }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.locator("tr").filter({ hasText: engine.users.reviewer.printedName })
      .filter({ hasText: /reviewed/i }).first().waitFor();
  });

  it("signs the batch approved as the approver (password, then one-time code)", async () => {
    const held = expected.held_result;
    assert.equal(lisResults(held.sample, held.lis_code).length, 0,
      "the held result is not at the LIS before its approval");
    const page = await logInAt("approver", batchPath());
    await page.getByRole("heading", { level: 1, name: `Batch ${engine.heldBatch.id}` }).waitFor();
    await settled(page);
    const approver = engine.users.approver;
    // The held result carries an error finding (a critical value): its approval needs a reason.
    const dialog = await fillSignDialog(page, { meaning: "approved", password: approver.password,
      reason: "Critical value telephoned to the requesting ward (browser test)",
      totp: await freshCode(approver.totpSecret) });
    await dialog.getByRole("button", { name: "Sign", exact: true }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.locator("tr").filter({ hasText: approver.printedName })
      .filter({ hasText: /approved/i }).first().waitFor();
  });

  it("delivers the approved result to the LIS", async () => {
    const held = expected.held_result;
    const arrived = await engine.lis.waitFor(() => lisResults(held.sample, held.lis_code).length > 0,
      30000);
    assert.ok(arrived, `no message with ${held.sample} ${held.analyte} reached the test LIS`);
    const { obx, message } = lisResults(held.sample, held.lis_code)[0];
    // The mapping's 1 decimal applies to a result released by a signature exactly as to one the
    // engine releases itself (the export says 68.900).
    assert.equal(obx[5], held.value, "OBX-5: the value, rounded as the mapping says");
    assert.ok((obx[16] ?? "").includes(engine.users.approver.printedName), "OBX-16: the approver");
    assert.ok(message.includes(`Electronically signed (approved) by ${engine.users.approver.printedName}`),
      "an NTE states the signature");
  });

  it("prints the report with the signatures", async () => {
    const page = await pageOf("approver");
    await page.getByRole("link", { name: "Report", exact: true }).click();
    await page.waitForURL(new RegExp(`#/batches/${engine.heldBatch.id}/report$`));
    await page.getByRole("heading", { level: 1, name: "Batch report" }).waitFor();
    await settled(page);
    const text = await page.locator("main").innerText();
    for (const name of ["reviewer", "approver"]) {
      assert.ok(text.includes(engine.users[name].printedName), `the report names the ${name}`);
    }
    assert.ok(await page.getByRole("button", { name: "Print" }).count() === 1, "a Print button");
    await screenshot(page, "report");
  });

  it("uploads a mapping set version and activates it with a signature", async () => {
    const page = await pageOf("lisadmin");
    await goto(page, `/mappings/${kMappingSet}`);
    await settled(page);
    await page.getByLabel("Mapping file (CSV)").setInputFiles(path.join(dataDir, "steroids-v2.csv"));
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const activate = page.getByRole("button", { name: "Activate version 2", exact: true });
    await activate.waitFor();
    // The differences against the active version: Cortisone's decimals change.
    const row = page.getByRole("row").filter({ has: activate });
    const inRowOrPage = async (name) =>
      (await row.getByRole("button", { name }).count()) ? row.getByRole("button", { name })
        : page.getByRole("button", { name }).last();
    await (await inRowOrPage("Show differences")).click();
    // The one changed row: Cortisone's decimals, 2 before, 1 after.
    const changed = page.getByRole("table", { name: "Changed rows" });
    await changed.waitFor();
    const cells = await changed.locator("tbody tr").first().locator("td").allInnerTexts();
    assert.deepEqual(cells.map((c) => c.trim()), ["Cortisone", "decimals", "2", "1"],
      "the differences name Cortisone's decimals, 2 → 1");
    assert.equal(await changed.locator("tbody tr").count(), 1, "one changed row");
    await (await inRowOrPage("Try on recent batches")).click();
    await settled(page);
    assert.equal(await page.getByRole("alert").count(), 0, "the dry-run answers without an error");

    await activate.click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await dialog.getByLabel("Reason", { exact: true }).fill("Cortisone to one decimal (browser test)");
    await dialog.getByLabel("Password", { exact: true }).fill(engine.users.lisadmin.password);
    await dialog.getByRole("button", { name: /^(Sign|Activate)/ }).click();
    await dialog.waitFor({ state: "hidden" });
    const api = await engine.api("lisadmin");
    const active = await waitUntil(async () => {
      const r = await api.get(`/api/v1/mapping-sets/${kMappingSet}`);
      const v = r.json?.active_version ?? r.json?.active?.version;
      return v === 2 ? v : null;
    }, 10000);
    assert.equal(active, 2, "version 2 is active");
  });

  it("finds the activation in the audit trail and verifies the trail", async () => {
    const page = await logInAt("auditor", "/audit");
    await settled(page);
    const action = page.getByLabel("Action", { exact: true });
    await action.fill("mapping_set.activated");
    await action.press("Enter");
    await page.locator("tr").filter({ hasText: "mapping_set.activated" })
      .filter({ hasText: engine.users.lisadmin.username }).first().waitFor();
    await page.getByRole("button", { name: "Verify the audit trail" }).click();
    await page.getByRole("status").filter({ hasText: /^\s*The audit trail is intact/ }).waitFor();
  });

  it("returns to login when the session is lost, and back to the page", async () => {
    const page = await pageOf("reviewer");
    await noDialog(page);
    await goto(page, "/results");
    await page.getByRole("button", { name: "Log out" }).waitFor();
    await contexts.reviewer.clearCookies(); // the session is gone: the next API call answers 401
    await page.getByRole("link", { name: "Review", exact: true }).click();
    await page.getByRole("button", { name: "Log in" }).waitFor();
    assert.match(page.url(), /#\/login\?next=/);
    await logIn(page, "reviewer");
    await eventually(async () => assert.match(page.url(), /#\/review/));
    await page.getByRole("heading", { level: 1 }).first().waitFor();
  });

  it("stops labgated cleanly", stopsCleanly);
});
