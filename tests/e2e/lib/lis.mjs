// A test LIS for the browser tests: an HL7 v2 MLLP server on loopback that answers every message
// with an ACK (MSA-1 AA, MSA-2 the message's control id) and records what it received.
import net from "node:net";

const kStart = "\x0b";
const kEnd = "\x1c\r";

function field(segment, n) {
  return segment.split("|")[n] ?? "";
}

function ackFor(message, counter) {
  const msh = message.split("\r").find((s) => s.startsWith("MSH")) ?? "";
  const controlId = field(msh, 9);
  const now = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return (
    `MSH|^~\\&|LIS|LAB|LABGATE||${now}||ACK^R01^ACK|LISACK${counter}|P|2.5.1\r` +
    `MSA|AA|${controlId}\r`
  );
}

/**
 * Starts the LIS on 127.0.0.1 (port 0: a free one). Resolves to
 * {port, messages (array of HL7 texts, segments separated by \r), waitFor(predicate, ms), stop()}.
 */
export async function startLis(port = 0) {
  const messages = [];
  const waiters = new Set();
  const sockets = new Set();
  let counter = 0;

  const notify = () => {
    for (const w of [...waiters]) {
      if (w.predicate(messages)) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(true);
      }
    }
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buffer = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk) => {
      buffer += chunk;
      for (;;) {
        const start = buffer.indexOf(kStart);
        const end = buffer.indexOf(kEnd, start + 1);
        if (start < 0 || end < 0) break;
        const message = buffer.slice(start + 1, end);
        buffer = buffer.slice(end + kEnd.length);
        messages.push(message);
        socket.write(kStart + ackFor(message, ++counter) + kEnd, "latin1");
      }
      notify();
    });
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });

  return {
    port: server.address().port,
    messages,
    /** Resolves true once predicate(messages) holds, false after `ms`. */
    waitFor(predicate, ms = 30000) {
      if (predicate(messages)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const w = { predicate, resolve };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          resolve(false);
        }, ms);
        waiters.add(w);
      });
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The segments of a recorded message named `name` (e.g. "OBX"), each split into fields. */
export function segments(message, name) {
  return message
    .split("\r")
    .filter((s) => s.startsWith(name + "|"))
    .map((s) => s.split("|"));
}

/**
 * The OBX segments (split into fields) of the order of `sampleId` in a recorded ORU^R01: those
 * after the OBR whose OBR-3 (filler order number, the sample id) is `sampleId`, up to the next
 * ORC or OBR.
 */
export function resultsOf(message, sampleId) {
  const found = [];
  let inside = false;
  for (const segment of message.split("\r")) {
    const f = segment.split("|");
    if (f[0] === "ORC") inside = false;
    if (f[0] === "OBR") inside = f[3] === sampleId;
    else if (f[0] === "OBX" && inside) found.push(f);
  }
  return found;
}
