// Starts a seeded labgated (lib/engine.mjs) to look at the console by hand, prints its URL and
// the test users, and keeps running until Ctrl-C.
//
//   LABGATE_CONSOLE_DIR=console/web/dist node tests/e2e/dev.mjs [--port 8088]
//
// env LABGATE_BIN: the labgated to run (default build-test/bin/labgated). The approver logs in
// with a one-time code: `node tests/e2e/lib/totp.mjs SECRET` prints the current one.
import { startEngine } from "./lib/engine.mjs";

function option(name) {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : undefined;
}

const engine = await startEngine({ httpPort: option("--port") });
console.log(`LabGate console: ${engine.url}/   (organisation: default)`);
console.log(`held batch: ${engine.url}/#/batches/${engine.heldBatch.id} (${engine.heldBatch.sourceName})`);
console.log("users (test-only passwords):");
const rows = [["admin", engine.admin.password, "admin", ""]];
for (const u of Object.values(engine.users)) {
  rows.push([u.username, u.password, u.roles.join(","), u.totpSecret ? `TOTP secret ${u.totpSecret}` : ""]);
}
for (const r of rows) console.log(`  ${r[0].padEnd(9)} ${r[1].padEnd(28)} ${r[2].padEnd(12)} ${r[3]}`);
console.log(`test LIS on 127.0.0.1:${engine.lis.port}; engine folder ${engine.dir}`);
console.log("Ctrl-C stops it.");

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await engine.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
setInterval(() => {
  if (!engine.running()) {
    console.error("labgated stopped");
    process.exit(1);
  }
}, 1000);
