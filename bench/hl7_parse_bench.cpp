// Google Benchmark of HL7 v2 inbound parsing: splitBatch + parseHl7 (text -> Document) and
// parse + buildMessage (-> canonical Message) over every message of ../shared/corpus/hl7 (or
// tests/data/hl7 when the shared folder is absent), plus the 85 KB escaped OBX-5 fragment inside a
// synthetic message when present. Reports bytes/s of input and messages/s.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/hl7/builder.h"
#include "connectors/hl7/parser.h"

namespace {

namespace fs = std::filesystem;
using labgate::hl7::Hl7Options;

struct Inputs {
  std::vector<std::string> messages;  // every message that parses (and the wrapped fragment)
  size_t bytes = 0;
  std::string largeMessage;  // the fragment wrapped, or "" without the shared corpus
};

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const Inputs& inputs() {
  static const Inputs kInputs = [] {
    Inputs in;
    fs::path dir = fs::path(LABGATE_SHARED_DIR) / "corpus" / "hl7";
    if (!fs::is_directory(dir)) dir = fs::path(LABGATE_TEST_DATA_DIR) / "hl7";
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      std::string text = readFile(file);
      if (file.filename().string().rfind("fragment_", 0) == 0) {
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        in.largeMessage =
            "MSH|^~\\&|Bench|Lab|||20240101120000||ORU^R01|BENCH-1|P|2.5.1\rOBR|1||B1\r"
            "OBX|1|TX|UUE^Payload^L||";
        in.largeMessage.append(text).append("||||||F\r");
        continue;
      }
      for (std::string& message : labgate::hl7::splitBatch(text)) {
        if (!labgate::hl7::parseHl7(message, Hl7Options{}).isOk()) continue;
        in.bytes += message.size();
        in.messages.push_back(std::move(message));
      }
    }
    return in;
  }();
  return kInputs;
}

void BM_Hl7Parse(benchmark::State& state) {
  const Inputs& in = inputs();
  const Hl7Options options;
  for (auto _ : state) {
    for (const std::string& message : in.messages) {
      benchmark::DoNotOptimize(labgate::hl7::parseHl7(message, options));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * in.messages.size()));
}
BENCHMARK(BM_Hl7Parse);

// parseHl7 decodes a field's text when it is read: this reads every field's text(), as the PHI gate
// does on the intake path (the old eager parse did this work inside parseHl7).
void BM_Hl7ParseDecodeAll(benchmark::State& state) {
  const Inputs& in = inputs();
  const Hl7Options options;
  for (auto _ : state) {
    for (const std::string& message : in.messages) {
      auto document = labgate::hl7::parseHl7(message, options);
      if (!document.isOk()) continue;
      size_t bytes = 0;
      for (const labgate::Record& record : document.value().records) {
        for (const labgate::Field& field : record.fields) bytes += field.text().size();
      }
      benchmark::DoNotOptimize(bytes);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * in.messages.size()));
}
BENCHMARK(BM_Hl7ParseDecodeAll);

void BM_Hl7ParseAndBuild(benchmark::State& state) {
  const Inputs& in = inputs();
  const Hl7Options options;
  for (auto _ : state) {
    for (const std::string& message : in.messages) {
      auto document = labgate::hl7::parseHl7(message, options);
      if (document.isOk()) {
        benchmark::DoNotOptimize(labgate::hl7::buildMessage(document.value(), options));
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * in.messages.size()));
}
BENCHMARK(BM_Hl7ParseAndBuild);

void BM_Hl7SplitBatch(benchmark::State& state) {
  const Inputs& in = inputs();
  std::string all;
  for (const std::string& message : in.messages) all.append(message);
  for (auto _ : state) benchmark::DoNotOptimize(labgate::hl7::splitBatch(all));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * all.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * in.messages.size()));
}
BENCHMARK(BM_Hl7SplitBatch);

// The 85 KB escaped OBX-5: linear-time decoding shows as MB/s in line with the small messages.
void BM_Hl7EscapedFragment(benchmark::State& state) {
  const Inputs& in = inputs();
  if (in.largeMessage.empty()) {
    state.SkipWithError("no shared corpus");
    return;
  }
  const Hl7Options options;
  for (auto _ : state) {
    auto document = labgate::hl7::parseHl7(in.largeMessage, options);
    if (document.isOk()) {
      // The OBX-5 text as the PHI gate reads it (decoded on first read), then the Message.
      benchmark::DoNotOptimize(document.value().records.back().fields[5].text().size());
      benchmark::DoNotOptimize(labgate::hl7::buildMessage(document.value(), options));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.largeMessage.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Hl7EscapedFragment);

}  // namespace

BENCHMARK_MAIN();
