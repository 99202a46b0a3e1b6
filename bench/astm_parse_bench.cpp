// Google Benchmark of ASTM inbound parsing: the E1381 receiver over framed byte streams (whole
// and in TCP-sized chunks), and records -> Document -> Message. Input is every framed and unframed
// file of ../shared/corpus/astm, or tests/data/astm when the shared folder is absent, plus one
// generated 200-result message. Throughput is reported as bytes/s of input.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/astm/framing.h"
#include "connectors/astm/records.h"

namespace {

namespace fs = std::filesystem;
using labgate::astm::AstmOptions;

struct Inputs {
  std::string framedStream;           // every framed file as one ENQ..EOT session, back to back
  std::vector<std::string> messages;  // every message text (framing removed)
  size_t messageBytes = 0;
};

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string generatedMessage() {
  std::string text =
      "H|\\^&|||BenchAnalyzer^1.0|||||||P|LIS2-A2|20240101120000\rP|1\r"
      "O|1|BENCH-0001||^^^PANEL|R|20240101115500\r";
  for (int i = 1; i <= 200; ++i) {
    text += "R|" + std::to_string(i) + "|^^^T" + std::to_string(i) + "|" + std::to_string(i) +
            ".25|mmol/L|1.0-9.0|N||F||OP|20240101115900|20240101115950|BENCH\r";
  }
  return text + "L|1|N";
}

const Inputs& inputs() {
  static const Inputs kInputs = [] {
    Inputs in;
    fs::path dir = fs::path(LABGATE_SHARED_DIR) / "corpus" / "astm";
    if (!fs::is_directory(dir)) dir = fs::path(LABGATE_TEST_DATA_DIR) / "astm";
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.find("NOT_ASTM") == std::string::npos &&
          name.rfind("fragment_", 0) != 0) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    const AstmOptions options;
    for (const auto& file : files) {
      const std::string bytes = readFile(file);
      if (bytes.empty()) continue;
      if (bytes[0] == labgate::astm::kStx) {
        in.framedStream += labgate::astm::kEnq + bytes + labgate::astm::kEot;
      } else {
        for (auto& text : labgate::astm::splitMessages(bytes, options)) {
          in.messages.push_back(std::move(text));
        }
      }
    }
    const std::string generated = generatedMessage();
    in.framedStream +=
        labgate::astm::kEnq + labgate::astm::frameMessage(generated) + labgate::astm::kEot;
    // The framed files' messages as the receiver delivers them.
    labgate::astm::Receiver receiver(options, [&in](std::string_view text) {
      in.messages.emplace_back(text);
      return true;
    });
    std::string reply;
    receiver.feed(in.framedStream, {}, reply);
    for (const auto& text : in.messages) in.messageBytes += text.size();
    return in;
  }();
  return kInputs;
}

// The whole framed stream in one feed() call per iteration.
void BM_ReceiverFramedStream(benchmark::State& state) {
  const std::string& stream = inputs().framedStream;
  size_t delivered = 0;
  labgate::astm::Receiver receiver(AstmOptions{}, [&delivered](std::string_view) {
    ++delivered;
    return true;
  });
  std::string reply;
  for (auto _ : state) {
    reply.clear();
    receiver.feed(stream, {}, reply);
    benchmark::DoNotOptimize(reply.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["messages"] = static_cast<double>(delivered) / state.iterations();
}
BENCHMARK(BM_ReceiverFramedStream);

// The same stream in chunks of `range(0)` bytes, as TCP reads deliver it.
void BM_ReceiverChunked(benchmark::State& state) {
  const std::string& stream = inputs().framedStream;
  const auto chunk = static_cast<size_t>(state.range(0));
  labgate::astm::Receiver receiver(AstmOptions{}, [](std::string_view) { return true; });
  std::string reply;
  for (auto _ : state) {
    reply.clear();
    for (size_t pos = 0; pos < stream.size(); pos += chunk) {
      receiver.feed(std::string_view(stream).substr(pos, chunk), {}, reply);
    }
    benchmark::DoNotOptimize(reply.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_ReceiverChunked)->Arg(1)->Arg(64)->Arg(1460);

// Every message text through parseRecords and buildMessage.
void BM_RecordsToMessage(benchmark::State& state) {
  const Inputs& in = inputs();
  const AstmOptions options;
  size_t results = 0;
  for (auto _ : state) {
    for (const auto& text : in.messages) {
      auto document = labgate::astm::parseRecords(text, options);
      if (!document.isOk()) continue;
      auto message = labgate::astm::buildMessage(document.value(), options);
      if (message.isOk()) results += message.value().resultCount();
      benchmark::DoNotOptimize(message);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.messageBytes));
  state.counters["results"] = static_cast<double>(results) / state.iterations();
}
BENCHMARK(BM_RecordsToMessage);

// Framed bytes to canonical messages: the receiver's sink parses and builds each message.
void BM_FramedToMessage(benchmark::State& state) {
  const std::string& stream = inputs().framedStream;
  const AstmOptions options;
  size_t results = 0;
  labgate::astm::Receiver receiver(options, [&](std::string_view text) {
    auto document = labgate::astm::parseRecords(text, options);
    if (!document.isOk()) return false;
    auto message = labgate::astm::buildMessage(document.value(), options);
    if (message.isOk()) results += message.value().resultCount();
    return true;
  });
  std::string reply;
  for (auto _ : state) {
    reply.clear();
    receiver.feed(stream, {}, reply);
    benchmark::DoNotOptimize(reply.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_FramedToMessage);

}  // namespace

BENCHMARK_MAIN();
