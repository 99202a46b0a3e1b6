// LC-MS/MS batch export parsing: the engine's whole loop over one file, open -> next -> accept ->
// ... -> finish, for a MassHunter wide-form CSV, a SCIEX MultiQuant TSV and a TargetLynx XML,
// generated in memory by export_gen.h (seeded, so every run reads the same bytes). Each is timed
// without and with the PHI gate (config/phi-patterns.json, refuse policy) screening every record
// the way engine/pipeline does. Reported: bytes/s, records/s (what next() yields: delimited rows,
// XML elements) and results/s (results in the finished Message).
//
// Peak memory is measured apart, in a fresh process, because ru_maxrss is a high-water mark that
// the in-memory benchmarks would already have raised:
//
//     export_parse_bench --export-rss=200 [--export-rss-dir=/tmp]
//
// writes a ~200 MB MassHunter-like CSV to disk, streams it through the loop from an ifstream and
// prints ru_maxrss before and after next to the file size.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <streambuf>
#include <string>
#include <utility>

#include "bench/export_gen.h"
#include "connectors/csv/formats.h"
#include "connectors/xml/formats.h"
#include "engine/net/export.h"
#include "engine/phi/phi_gate.h"

namespace {

using labgate::Document;
using labgate::ExportFormat;
using labgate::ExportFormats;
using labgate::ExportParse;
using labgate::ExportSettings;
using labgate::Message;
using labgate::Record;
using labgate::Status;
using labgate::StatusOr;
using labgate::phi::PhiGate;
using labgate::phi::Policy;

constexpr int kCompounds = 20;
constexpr uint64_t kSeed = 20261124;

/// An istream over bytes held elsewhere, without copying them.
class ViewBuf : public std::streambuf {
 public:
  explicit ViewBuf(const std::string& bytes) {
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
};

const ExportFormats& formats() {
  static const ExportFormats all = [] {
    ExportFormats f;
    labgate::csv::registerCsvFormats(f);
    labgate::xml::registerXmlFormats(f);
    return f;
  }();
  return all;
}

/// The configured format, or the Status its factory returned (a stub, a bad name).
StatusOr<std::shared_ptr<const ExportFormat>> configure(const std::string& name) {
  const labgate::ExportFormatInfo* info = formats().find(name);
  if (!info) return Status::notFound(name, "no such export format");
  ExportSettings settings;
  settings.keyPrefix = "connector.bench.";
  return info->factory(settings);
}

const PhiGate* gate() {
  static const StatusOr<PhiGate> loaded =
      PhiGate::loadFile(LABGATE_SOURCE_DIR "/config/phi-patterns.json");
  return loaded.isOk() ? &loaded.value() : nullptr;
}

struct LoopCounts {
  int64_t records = 0;
  int64_t results = 0;
  int64_t hits = 0;
};

/// The engine's loop over one file (engine/pipeline/pipeline.cpp), with the gate when given.
StatusOr<LoopCounts> runLoop(const ExportFormat& format, std::istream& in, const PhiGate* phi,
                             labgate::SourceFormat source) {
  StatusOr<std::unique_ptr<ExportParse>> opened = format.open(in);
  if (!opened.isOk()) return opened.status();
  ExportParse& parse = *opened.value();
  LoopCounts counts;
  Document doc;
  doc.format = source;
  doc.records.resize(1);
  std::shared_ptr<const std::vector<std::string>> names;
  std::shared_ptr<const std::vector<std::string>> nameRules;
  for (;;) {
    Record& record = doc.records.front();
    StatusOr<bool> more = parse.next(record);
    if (!more.isOk()) return more.status();
    if (!more.value()) break;
    ++counts.records;
    if (phi) {
      if (record.names != names) {
        names = record.names;
        nameRules = names ? phi->classifyNames(*names) : nullptr;
      }
      record.nameRules = nameRules;
      counts.hits += static_cast<int64_t>(phi->screen(doc, Policy::kRefuse).hits.size());
    }
    if (Status accepted = parse.accept(record); !accepted.isOk()) return accepted;
  }
  StatusOr<Message> message = parse.finish();
  if (!message.isOk()) return message.status();
  counts.results = static_cast<int64_t>(message.value().resultCount());
  return counts;
}

enum class Kind { kMassHunter, kSciex, kTargetLynx };

const char* formatName(Kind kind) {
  switch (kind) {
    case Kind::kMassHunter:
      return "masshunter";
    case Kind::kSciex:
      return "sciex";
    case Kind::kTargetLynx:
      return "targetlynx-xml";
  }
  return "";
}

labgate::SourceFormat sourceOf(Kind kind) {
  return kind == Kind::kTargetLynx ? labgate::SourceFormat::kXml : labgate::SourceFormat::kCsv;
}

/// The generated file of ~`megabytes` MB for `kind`, made once per process.
const std::string& input(Kind kind, int megabytes) {
  static std::map<std::pair<Kind, int>, std::string> cache;
  auto key = std::make_pair(kind, megabytes);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  size_t bytes = static_cast<size_t>(megabytes) << 20;
  std::string text;
  if (kind == Kind::kMassHunter) {
    labgate::benchgen::MassHunterWide gen(kCompounds, kSeed);
    text = labgate::benchgen::ofSize(gen, bytes);
  } else if (kind == Kind::kSciex) {
    labgate::benchgen::SciexTsv gen(kCompounds, kSeed);
    text = labgate::benchgen::ofSize(gen, bytes);
  } else {
    labgate::benchgen::TargetLynxXml gen(kCompounds, kSeed);
    text = labgate::benchgen::ofSize(gen, bytes);
  }
  return cache.emplace(key, std::move(text)).first->second;
}

void runBenchmark(benchmark::State& state, Kind kind, bool withGate) {
  StatusOr<std::shared_ptr<const ExportFormat>> format = configure(formatName(kind));
  if (!format.isOk()) {
    state.SkipWithError(("format not available: " + format.status().toString()).c_str());
    return;
  }
  const PhiGate* phi = nullptr;
  if (withGate) {
    phi = gate();
    if (!phi) {
      state.SkipWithError("config/phi-patterns.json did not load");
      return;
    }
  }
  const std::string& bytes = input(kind, static_cast<int>(state.range(0)));
  LoopCounts last;
  for (auto _ : state) {
    ViewBuf buf(bytes);
    std::istream in(&buf);
    StatusOr<LoopCounts> counts = runLoop(*format.value(), in, phi, sourceOf(kind));
    if (!counts.isOk()) {
      state.SkipWithError(("parse failed: " + counts.status().toString()).c_str());
      return;
    }
    last = counts.value();
    benchmark::DoNotOptimize(last);
  }
  if (last.hits != 0) {
    state.SkipWithError("the generated file has PHI hits: the gate would refuse it");
    return;
  }
  const auto iterations = static_cast<int64_t>(state.iterations());
  state.SetBytesProcessed(iterations * static_cast<int64_t>(bytes.size()));
  state.counters["records/s"] = benchmark::Counter(static_cast<double>(last.records * iterations),
                                                   benchmark::Counter::kIsRate);
  state.counters["results/s"] = benchmark::Counter(static_cast<double>(last.results * iterations),
                                                   benchmark::Counter::kIsRate);
  state.counters["records"] = static_cast<double>(last.records);
  state.counters["results"] = static_cast<double>(last.results);
}

void BM_MassHunterWide(benchmark::State& s) { runBenchmark(s, Kind::kMassHunter, false); }
void BM_MassHunterWideGate(benchmark::State& s) { runBenchmark(s, Kind::kMassHunter, true); }
void BM_SciexTsv(benchmark::State& s) { runBenchmark(s, Kind::kSciex, false); }
void BM_SciexTsvGate(benchmark::State& s) { runBenchmark(s, Kind::kSciex, true); }
void BM_TargetLynxXml(benchmark::State& s) { runBenchmark(s, Kind::kTargetLynx, false); }
void BM_TargetLynxXmlGate(benchmark::State& s) { runBenchmark(s, Kind::kTargetLynx, true); }

// Arg: file size in MB.
BENCHMARK(BM_MassHunterWide)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MassHunterWideGate)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SciexTsv)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SciexTsvGate)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TargetLynxXml)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TargetLynxXmlGate)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();

long maxRssKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

/// --export-rss=MB: peak memory of the delimited path over a file on disk. Returns the exit code.
int measureRss(int megabytes, const std::string& dir, bool withGate) {
  const std::string path = dir + "/labgate_export_rss_" + std::to_string(getpid()) + ".csv";
  labgate::benchgen::MassHunterWide gen(kCompounds, kSeed);
  int injections = 0;
  const size_t size =
      labgate::benchgen::writeFile(gen, path, static_cast<size_t>(megabytes) << 20, &injections);
  if (size == 0) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }
  StatusOr<std::shared_ptr<const ExportFormat>> format = configure("masshunter");
  const PhiGate* phi = withGate ? gate() : nullptr;
  if (!format.isOk() || (withGate && !phi)) {
    std::fprintf(stderr, "masshunter or the gate is not available: %s\n",
                 format.status().toString().c_str());
    std::remove(path.c_str());
    return 1;
  }
  const long before = maxRssKiB();
  const auto start = std::chrono::steady_clock::now();
  StatusOr<LoopCounts> counts = [&]() -> StatusOr<LoopCounts> {
    std::ifstream in(path, std::ios::binary);
    return runLoop(*format.value(), in, phi, labgate::SourceFormat::kCsv);
  }();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long after = maxRssKiB();
  std::remove(path.c_str());
  if (!counts.isOk()) {
    std::fprintf(stderr, "parse failed: %s\n", counts.status().toString().c_str());
    return 1;
  }
  const double mib = static_cast<double>(size) / (1 << 20);
  std::printf("masshunter wide CSV on disk: %.1f MiB, %d injections x %d compounds%s\n", mib,
              injections, kCompounds, withGate ? ", PHI gate on" : "");
  std::printf("records %lld, results in the Message %lld, hits %lld, %.2f s (%.1f MB/s)\n",
              static_cast<long long>(counts.value().records),
              static_cast<long long>(counts.value().results),
              static_cast<long long>(counts.value().hits), seconds, mib / seconds);
  std::printf("max RSS before %.1f MiB, after %.1f MiB: growth %.1f MiB = %.2f x the file\n",
              before / 1024.0, after / 1024.0, (after - before) / 1024.0,
              (after - before) / 1024.0 / mib);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int rssMegabytes = 0;
  bool rssGate = false;
  std::string rssDir = "/tmp";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--export-rss=", 13) == 0) {
      rssMegabytes = std::atoi(argv[i] + 13);
    } else if (std::strncmp(argv[i], "--export-rss-dir=", 17) == 0) {
      rssDir = argv[i] + 17;
    } else if (std::strcmp(argv[i], "--export-rss-gate") == 0) {
      rssGate = true;
    } else {
      argv[kept++] = argv[i];
    }
  }
  if (rssMegabytes > 0) return measureRss(rssMegabytes, rssDir, rssGate);
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
