// LabGate's side of bench/peers/run: the same input and the same work as the peers' drivers in
// bench/peers/ (every message parsed to a field-addressable Document, every OBX-5 read as
// decoded text: Field::text() resolves the escapes when it is read).
//
//   hl7_peer_parse generate OUT MIN_BYTES DIR   # OUT: the messages of DIR that parseHl7 accepts,
//                                              # repeated until OUT holds >= MIN_BYTES
//   hl7_peer_parse parse FILE RUNS              # one warm-up pass, then RUNS timed passes
//
// The input file holds one message per line: segments end in CR, messages in LF (splitBatch turns
// every segment end into CR, so LF never occurs inside a message). Each repetition gets its own
// MSH-10 so that no two messages are identical. `parse` splits the file before the clock starts and
// times only the parse loop; it prints one JSON line (bytes, messages, obx, seconds of the best
// run, and cpu_seconds: the least CPU time of a run). Only counts and rates are printed, never a
// field value.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/hl7/parser.h"

namespace {

namespace fs = std::filesystem;
using labgate::hl7::Hl7Options;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The message with "-" and the repetition number appended to MSH-10 (the 10th field of the first
// segment, counting MSH-1 as the separator after "MSH").
std::string withControlSuffix(const std::string& message, size_t repetition) {
  const char separator = message.size() > 3 ? message[3] : '|';
  size_t position = 3;
  for (int field = 1; field < 10 && position != std::string::npos; ++field) {
    position = message.find(separator, position + 1);
  }
  if (position == std::string::npos) return message;
  const size_t end = message.find_first_of(std::string{separator, '\r'}, position + 1);
  std::string varied = message;
  varied.insert(end == std::string::npos ? varied.size() : end, "-" + std::to_string(repetition));
  return varied;
}

int generate(const fs::path& out, size_t minBytes, const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.rfind("fragment_", 0) != 0 && name != "SOURCES.md") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  const Hl7Options options;
  std::vector<std::string> messages;
  size_t refused = 0;
  for (const fs::path& file : files) {
    for (std::string& message : labgate::hl7::splitBatch(readFile(file))) {
      if (labgate::hl7::parseHl7(message, options).isOk()) {
        messages.push_back(std::move(message));
      } else {
        ++refused;
      }
    }
  }
  if (messages.empty()) {
    std::cerr << "hl7_peer_parse: no message of " << dir << " parses\n";
    return 1;
  }
  std::ofstream output(out, std::ios::binary);
  size_t written = 0;
  size_t count = 0;
  for (size_t repetition = 1; written < minBytes; ++repetition) {
    for (const std::string& message : messages) {
      const std::string varied = withControlSuffix(message, repetition);
      output << varied << '\n';
      written += varied.size() + 1;
      ++count;
    }
  }
  output.close();
  if (!output) {
    std::cerr << "hl7_peer_parse: cannot write " << out << "\n";
    return 1;
  }
  std::cout << R"({"distinct":)" << messages.size() << R"(,"refused":)" << refused
            << R"(,"messages":)" << count << R"(,"bytes":)" << written << "}\n";
  return 0;
}

struct Pass {
  size_t messages = 0;
  size_t obx = 0;
  size_t obxBytes = 0;  // keeps the reads observable
};

Pass parseAll(const std::vector<std::string_view>& messages) {
  const Hl7Options options;
  Pass pass;
  for (std::string_view message : messages) {
    auto document = labgate::hl7::parseHl7(message, options);
    if (!document.isOk()) continue;
    ++pass.messages;
    for (const labgate::Record& record : document.value().records) {
      if (record.type != "OBX") continue;
      ++pass.obx;
      pass.obxBytes += record.fields.size() > 5 ? record.fields[5].text().size() : 0;
    }
  }
  return pass;
}

// CPU time of the process (every thread), as the peers' drivers measure it too: on a shared machine
// the wall clock also counts the time the scheduler gave to others.
double processCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

int parse(const fs::path& file, int runs) {
  const std::string text = readFile(file);
  std::vector<std::string_view> messages;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) messages.emplace_back(text.data() + start, end - start);
    start = end + 1;
  }
  Pass pass = parseAll(messages);  // warm-up
  double best = 0;
  double bestCpu = 0;
  for (int run = 0; run < runs; ++run) {
    const auto begin = std::chrono::steady_clock::now();
    const double beginCpu = processCpuSeconds();
    pass = parseAll(messages);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - begin;
    const double cpu = processCpuSeconds() - beginCpu;
    if (run == 0 || elapsed.count() < best) best = elapsed.count();
    if (run == 0 || cpu < bestCpu) bestCpu = cpu;
  }
  std::cout << R"({"bytes":)" << text.size() << R"(,"messages":)" << pass.messages << R"(,"obx":)"
            << pass.obx << R"(,"obx_bytes":)" << pass.obxBytes << R"(,"seconds":)" << best
            << R"(,"cpu_seconds":)" << bestCpu << "}\n";
  return pass.messages == messages.size() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 4 && args[0] == "generate") {
    return generate(args[1], std::strtoull(args[2].c_str(), nullptr, 10), args[3]);
  }
  if (args.size() == 3 && args[0] == "parse") {
    return parse(args[1], std::max(1, std::atoi(args[2].c_str())));
  }
  std::cerr << "usage: hl7_peer_parse generate OUT MIN_BYTES DIR | parse FILE RUNS\n";
  return 2;
}
