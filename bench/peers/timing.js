// Shared by the Node peers' drivers: reads the input (one message per line, segments ending in CR),
// splits it before the clock starts, runs one warm-up pass and RUNS timed passes of `parseAll`
// (which returns {messages, obx, obxBytes}) and prints one JSON line like bench/hl7_peer_parse.
'use strict';
const fs = require('fs');

module.exports = function run(parseAll) {
  const [file, runsText] = process.argv.slice(2);
  const runs = Math.max(1, Number(runsText) || 1);
  const buffer = fs.readFileSync(file);
  // latin1: one character per byte, so delimiters stay where they are whatever MSH-18 says.
  const messages = buffer.toString('latin1').split('\n').filter((m) => m.length > 0);
  let pass = parseAll(messages); // warm-up (lets V8 optimise the parser)
  let best = Infinity;
  let bestCpu = Infinity;
  for (let i = 0; i < runs; i++) {
    const begin = process.hrtime.bigint();
    const beginCpu = process.cpuUsage();
    pass = parseAll(messages);
    const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
    // The process's CPU time (user + system, every thread: the GC's work counts).
    const cpu = process.cpuUsage(beginCpu);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    if (seconds < best) best = seconds;
    if (cpuSeconds < bestCpu) bestCpu = cpuSeconds;
  }
  process.stdout.write(JSON.stringify({
    bytes: buffer.length, messages: pass.messages, obx: pass.obx, obx_bytes: pass.obxBytes,
    seconds: best, cpu_seconds: bestCpu,
  }) + '\n');
};
