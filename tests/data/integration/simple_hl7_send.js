// Sends one HL7 message file to an MLLP listener with the npm package simple-hl7's TCP client and
// prints what the acknowledgement said, for tests/integration/hl7_clients_test.cpp.
//
// Usage: node simple_hl7_send.js <simple-hl7 module dir> <port> <message file>
// Output (one line): "MSA-1=<code> MSA-2=<control id>", or "ERROR <text>" / "TIMEOUT" with exit
// status 2 / 3. Never prints the message itself (the PHI fixtures carry invented identities).
'use strict';

const fs = require('fs');

const [moduleDir, port, file] = process.argv.slice(2);
if (!moduleDir || !port || !file) {
  console.log('ERROR usage: node simple_hl7_send.js <module dir> <port> <message file>');
  process.exit(2);
}
const hl7 = require(moduleDir);

const message = fs.readFileSync(file, 'latin1');
const client = hl7.Server.createTcpClient({ host: '127.0.0.1', port: Number(port) });
const timer = setTimeout(() => {
  console.log('TIMEOUT');
  process.exit(3);
}, 20000);

client.send(message, (err, ack) => {
  clearTimeout(timer);
  if (err) {
    console.log('ERROR ' + err.message);
    process.exit(2);
  }
  const msa = ack.getSegment('MSA');
  if (!msa) {
    console.log('ERROR no MSA segment in the acknowledgement');
    process.exit(2);
  }
  console.log('MSA-1=' + msa.getField(1) + ' MSA-2=' + msa.getField(2));
  process.exit(0);
});
