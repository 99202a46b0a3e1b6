// @medplum/core's Hl7Message: parse each message, read OBX-5 of every OBX (getField(5)).
'use strict';
const { Hl7Message } = require('@medplum/core');
const run = require('./timing');

run((messages) => {
  const pass = { messages: 0, obx: 0, obxBytes: 0 };
  for (const text of messages) {
    const message = Hl7Message.parse(text);
    pass.messages++;
    for (const obx of message.getAllSegments('OBX')) {
      pass.obx++;
      pass.obxBytes += obx.getField(5).toString().length;
    }
  }
  return pass;
});
