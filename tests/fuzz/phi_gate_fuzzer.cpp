// libFuzzer harness for the PHI gate's normalised forms (engine/phi/normalize) and screen() over
// them, with the shipped config/phi-patterns.json: arbitrary bytes (invalid UTF-8, lone
// surrogates' encodings, overlong forms, every script) as the text of a free-text field, an order
// field and an export cell and name. Checks the contracts that do not depend on the input:
//   - the fold never changes ASCII text, and is ASCII-stable (folding a fold of ASCII is itself);
//   - latin1Reread gives "" or valid UTF-8 with a non-ASCII character;
//   - refuse leaves the document untouched and gives the same hits as strip;
//   - no Hit carries the field's text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/phi/normalize.h"
#include "engine/phi/phi_gate.h"

namespace {

const labgate::phi::PhiGate& gate() {
  static const labgate::phi::PhiGate loaded = [] {
    // The repository root from this file's path (tests/fuzz/phi_gate_fuzzer.cpp).
    std::string root = __FILE__;
    root = root.substr(0, root.rfind("/tests/fuzz/"));
    auto result = labgate::phi::PhiGate::loadFile(root + "/config/phi-patterns.json");
    if (!result.isOk()) std::abort();
    return result.value();
  }();
  return loaded;
}

bool validUtf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

labgate::Document documentWith(const std::string& text) {
  labgate::Document document;
  document.format = labgate::SourceFormat::kAstm;
  auto add = [&](const std::string& type, size_t field) {
    labgate::Record record;
    record.type = type;
    record.ordinal = static_cast<int>(document.records.size());
    record.fields.resize(field + 1);
    record.fields[0] = labgate::Field{type, type, false};
    record.fields[field] = labgate::Field{text, text, false};
    document.records.push_back(std::move(record));
  };
  add("O", 14);  // order field: every pattern
  add("O", 17);  // ordering physician: exempt, screen_exempt patterns only
  add("C", 4);   // free text
  add("H", 5);   // exempt_all
  return document;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using labgate::phi::foldedForm;
  using labgate::phi::isAscii;
  using labgate::phi::latin1Reread;
  using labgate::phi::nfkcForm;

  const std::string nfkc = nfkcForm(text);
  const std::string folded = foldedForm(nfkc);
  if (isAscii(text) && foldedForm(text) != text) std::abort();
  if (isAscii(folded) && foldedForm(folded) != folded) std::abort();
  const std::string reread = latin1Reread(text);
  if (!reread.empty() && (isAscii(reread) || !validUtf8(reread))) std::abort();

  labgate::Document refused = documentWith(text);
  const labgate::Document before = refused;
  const auto hitsRefuse = gate().screen(refused, labgate::phi::Policy::kRefuse).hits;
  for (size_t r = 0; r < refused.records.size(); ++r) {
    for (size_t f = 0; f < refused.records[r].fields.size(); ++f) {
      if (refused.records[r].fields[f].text() != before.records[r].fields[f].text()) std::abort();
    }
  }
  labgate::Document stripped = documentWith(text);
  const auto hitsStrip = gate().screen(stripped, labgate::phi::Policy::kStrip).hits;
  if (hitsRefuse.size() != hitsStrip.size()) std::abort();
  for (size_t i = 0; i < hitsRefuse.size(); ++i) {
    if (hitsRefuse[i].patternId != hitsStrip[i].patternId) std::abort();
    if (hitsRefuse[i].location != hitsStrip[i].location) std::abort();
    if (size >= 4 && (hitsRefuse[i].location.find(text) != std::string::npos ||
                      hitsRefuse[i].patternId.find(text) != std::string::npos)) {
      std::abort();
    }
  }
  // H-5 is exempt_all: never a hit there.
  for (const auto& hit : hitsRefuse) {
    if (hit.location == "H-5") std::abort();
  }

  // Export column names with the same bytes.
  const auto rules = gate().classifyNames({text, "Sample Name"});
  if (rules->size() != 2 || !(*rules)[1].empty()) std::abort();
  return 0;
}
