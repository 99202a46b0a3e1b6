// Helpers shared by the ASTM connector's unit tests: a Receiver with a recording sink, the
// invented messages the tests use, and file access to tests/data and the shared corpus.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/astm/framing.h"

namespace labgate::astm::testing {

/// An invented two-result message (no real person or sample), records joined by CR.
inline std::string syntheticMessage(const std::string& sampleId = "SMP-0001") {
  return "H|\\^&|||SynthAnalyzer^1.0|||||||P|LIS2-A2|20240101120000\r"
         "P|1\r"
         "O|1|" +
         sampleId +
         "||^^^GLU\\^^^NA|R|20240101115500\r"
         "R|1|^^^GLU|5.5|mmol/L|3.9-6.1|N||F||||20240101115900\r"
         "R|2|^^^NA|140|mmol/L|135-145|N||F||||20240101115910\r"
         "L|1|N";
}

/// A Receiver whose sink records every message and answers with `accept`.
struct Harness {
  explicit Harness(AstmOptions options = {})
      : receiver(options, [this](std::string_view text) {
          messages.emplace_back(text);
          return accept;
        }) {}

  /// Feeds `bytes` in one call and returns the reply bytes.
  std::string feed(std::string_view bytes) {
    std::string reply;
    receiver.feed(bytes, now, reply);
    return reply;
  }

  /// Feeds `bytes` one byte per call and returns all reply bytes.
  std::string feedBytewise(std::string_view bytes) {
    std::string reply;
    for (char c : bytes) receiver.feed(std::string_view(&c, 1), now, reply);
    return reply;
  }

  bool accept = true;
  std::vector<std::string> messages;
  std::chrono::steady_clock::time_point now =
      std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  Receiver receiver;
};

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::filesystem::path testDataDir() {
  return std::filesystem::path(LABGATE_TEST_DATA_DIR) / "astm";
}
inline std::filesystem::path corpusDir() {
  return std::filesystem::path(LABGATE_SHARED_DIR) / "corpus" / "astm";
}

/// Counts bytes equal to `c` in `text`.
inline size_t countOf(const std::string& text, char c) {
  size_t n = 0;
  for (char x : text) n += x == c;
  return n;
}

}  // namespace labgate::astm::testing
