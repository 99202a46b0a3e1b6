// RFC 6238 TOTP codes (SHA-1, 6 digits, 30-second steps) for the browser tests, with node's
// crypto: the approver's second factor. The engine accepts a code once, for the current and the
// previous step, so the tests ask for a code of a step not used before (see freshCode).
import { createHmac } from "node:crypto";

const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** Decodes RFC 4648 base32 (upper or lower case, padding and spaces ignored) to bytes. */
export function base32Decode(text) {
  const clean = text.replace(/[\s=]/g, "").toUpperCase();
  const bytes = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of clean) {
    const value = kAlphabet.indexOf(ch);
    if (value < 0) throw new Error("not a base32 secret (unexpected character)");
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** The HOTP value (RFC 4226) of `counter` as a zero-padded string of `digits`. */
export function hotp(key, counter, digits = 6) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", key).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** The 30-second step of a time in milliseconds. */
export function stepOf(ms = Date.now()) {
  return Math.floor(ms / 1000 / 30);
}

/** The TOTP code of a base32 secret at a time (default now). */
export function totp(secret, ms = Date.now()) {
  return hotp(base32Decode(secret), stepOf(ms));
}

const usedSteps = new Map(); // secret -> last step whose code was handed out

/**
 * A code of a step not handed out before for this secret (the engine refuses a replayed code).
 * Waits for the next step when the current one was used; at most about 30 s.
 */
export async function freshCode(secret) {
  for (;;) {
    const step = stepOf();
    if ((usedSteps.get(secret) ?? -1) < step) {
      usedSteps.set(secret, step);
      return hotp(base32Decode(secret), step);
    }
    const wait = (step + 1) * 30000 - Date.now() + 200;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

// `node tests/e2e/lib/totp.mjs SECRET` prints the current code (for dev.mjs's approver).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  if (!process.argv[2]) {
    console.error("usage: node totp.mjs BASE32-SECRET");
    process.exit(2);
  }
  console.log(totp(process.argv[2]));
}
