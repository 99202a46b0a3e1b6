// The export loop both export fuzzers drive, as the pipeline does: open, next / (strip) / accept
// until the end, finish. `mode` 0 accepts every record, 1 strips every third field first (the
// gate's strip policy), 2 refuses (reads to the end without accepting). Aborts on what must never
// happen: next() that never ends, or a finished batch carrying data the gate did not pass.
#pragma once

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "engine/net/export.h"

inline void runExportLoop(const labgate::ExportFormat& format, const std::string& bytes, int mode,
                          bool finishRefusesUnscreened) {
  std::istringstream in(bytes);
  labgate::StatusOr<std::unique_ptr<labgate::ExportParse>> opened = format.open(in);
  if (!opened.isOk()) return;
  labgate::ExportParse& parse = *opened.value();
  labgate::Record record;
  bool accepted = true;
  // Bounded: no input this size can honestly hold more records than bytes + a few.
  for (size_t n = 0;; ++n) {
    if (n > bytes.size() + 16) std::abort();  // next() does not reach the end
    labgate::StatusOr<bool> more = parse.next(record);
    if (!more.isOk()) return;
    if (!more.value()) break;
    if (mode == 2) {
      accepted = false;
      continue;
    }
    if (mode == 1) {
      for (size_t f = 1; f < record.fields.size(); f += 3) {
        record.fields[f].strip();
      }
    }
    if (!parse.accept(record).isOk()) return;
  }
  labgate::StatusOr<labgate::Message> message = parse.finish();
  // Results from records it never got back would be data the gate did not pass; the XML formats
  // go further and refuse to finish a document the gate did not pass whole.
  if (!accepted && message.isOk() &&
      (finishRefusesUnscreened || message.value().resultCount() > 0)) {
    std::abort();
  }
}
