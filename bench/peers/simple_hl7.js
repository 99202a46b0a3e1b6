// simple-hl7's Parser: parse each message, read OBX-5 of every OBX (getField(5)).
'use strict';
const hl7 = require('simple-hl7');
const run = require('./timing');

const parser = new hl7.Parser({ segmentSeperator: '\r' });
run((messages) => {
  const pass = { messages: 0, obx: 0, obxBytes: 0 };
  for (const text of messages) {
    const message = parser.parse(text);
    pass.messages++;
    for (const obx of message.getSegments('OBX')) {
      pass.obx++;
      pass.obxBytes += obx.getField(5).length;
    }
  }
  return pass;
});
