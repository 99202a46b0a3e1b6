// libFuzzer harness for the HL7 v2 parser and builder: arbitrary bytes through splitBatch,
// parseHeader, parseHl7 (every field's text() read), buildMessage and serialise (with a parse of
// the serialised text, which must succeed and give the same text back). Built with clang
// -fsanitize=fuzzer by the lead's CMake; seeds in tests/fuzz/corpus/hl7.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/hl7/builder.h"
#include "connectors/hl7/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labgate::hl7;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Hl7Options options;
  options.maxMessageBytes = 256 * 1024;
  for (const std::string& message : splitBatch(input)) {
    (void)parseHeader(message);
    labgate::StatusOr<labgate::Document> document = parseHl7(message, options);
    if (!document.isOk()) continue;
    // Fields are decoded when read: read every one, as the PHI gate does.
    size_t decoded = 0;
    for (const labgate::Record& record : document.value().records) {
      for (const labgate::Field& field : record.fields) decoded += field.text().size();
    }
    (void)decoded;
    (void)buildMessage(document.value(), options);
    const std::string written = serialise(document.value(), options);
    labgate::StatusOr<labgate::Document> again = parseHl7(written, options);
    if (!again.isOk() || serialise(again.value(), options) != written) std::abort();
  }
  // The whole input as one message too (not split), as a connector might pass it.
  labgate::StatusOr<labgate::Document> whole = parseHl7(input, options);
  if (whole.isOk()) (void)buildMessage(whole.value(), options);
  return 0;
}
