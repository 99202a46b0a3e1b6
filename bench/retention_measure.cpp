// retention_measure (issue 17): what `labgate archive` costs and frees on a generated store, and
// what VACUUM gives back afterwards. A plain program (no Google Benchmark: one run of each step).
//
//   retention_measure [--messages N] [--samples S] [--results R] [--body-bytes B] [--dir DIR]
//
// Generates N messages through the store's own write path (Store::commitInbound, 8 writers so
// the group commit batches them), each with S samples of R results with a peak, a sealed body of
// B bytes and one outbound item, received over 730 days (the older half falls before the archive
// bound); delivers every item; then times writeArchive (the older half), pruneArchive, and VACUUM
// on the closed store, and prints sizes before and after (bench/README.md "Retention").
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Timestamp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/security/crypto.h"
#include "engine/security/keyring.h"
#include "engine/store/audit.h"
#include "engine/store/retention.h"
#include "engine/store/store.h"

using namespace labgate;
using Clock = std::chrono::steady_clock;

namespace {

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t fileBytes(const std::string& path) {
  Poco::File f(path);
  return f.exists() ? static_cast<int64_t>(f.getSize()) : 0;
}

std::string mib(int64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024));
  return buffer;
}

std::string isoDaysAgo(int64_t now, double days) {
  return Poco::DateTimeFormatter::format(
      Poco::Timestamp((now - static_cast<int64_t>(days * 86400.0)) * 1000000),
      "%Y-%m-%dT%H:%M:%S.%iZ");
}

int64_t pragma(const std::string& db, const std::string& name) {
  Poco::Data::Session s("SQLite", db);
  int64_t v = 0;
  s << "PRAGMA " + name, Poco::Data::Keywords::into(v), Poco::Data::Keywords::now;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t messages = 10000, samples = 4, results = 5, bodyBytes = 4096;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const std::string v = argv[i + 1];
    if (a == "--messages") messages = std::stoll(v);
    if (a == "--samples") samples = std::stoll(v);
    if (a == "--results") results = std::stoll(v);
    if (a == "--body-bytes") bodyBytes = std::stoll(v);
    if (a == "--dir") dir = v;
  }
  if (dir.empty()) dir = Poco::TemporaryFile::tempName();
  Poco::File(dir).createDirectories();
  Poco::Data::SQLite::Connector::registerConnector();
  const std::string dataDir = Poco::Path(dir).append("data").toString();
  const std::string db = Poco::Path(dataDir).append("labgate.db").toString();

  security::KeyEncryptionKey kek;
  kek.bytes = security::randomBytes(32);
  kek.fingerprint = security::tokenDigest(kek.bytes).substr(0, 16);
  auto opened = Store::open(dataDir, std::make_shared<security::Keyring>(kek));
  if (!opened.isOk()) {
    std::cerr << opened.status().toString() << "\n";
    return 1;
  }
  std::shared_ptr<Store> store = opened.value();
  const int64_t now = Poco::Timestamp().epochTime();

  // ---- generate ----------------------------------------------------------------------------
  auto start = Clock::now();
  std::atomic<int64_t> next{0};
  std::atomic<int> failures{0};
  auto writer = [&](unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> value(0.5, 500.0);
    for (int64_t m = next++; m < messages; m = next++) {
      InboundCommit c;
      c.connector = "lab1";
      c.instrument = "tq-" + std::to_string(m % 50);
      c.format = "astm";
      c.peer = "127.0.0.1:5000";
      c.receivedAt = isoDaysAgo(
          now, 730.0 * static_cast<double>(messages - m) / static_cast<double>(messages));
      std::string body(static_cast<size_t>(bodyBytes), 'R');
      for (size_t i = 0; i < body.size(); i += 7) body[i] = static_cast<char>('A' + rng() % 26);
      c.contentSha256 = sha256Hex(body);
      c.rawBody = body;
      for (int64_t s = 0; s < samples; ++s) {
        Sample sample;
        sample.sampleId = "G" + std::to_string(m) + "S" + std::to_string(s);
        for (int64_t r = 0; r < results; ++r) {
          Result result;
          result.instrumentCode = "A" + std::to_string(r);
          result.lisCode = result.instrumentCode;
          result.value = std::to_string(value(rng));
          Peak peak;
          peak.retentionTime = 1.0 + static_cast<double>(r) * 0.3;
          peak.area = value(rng) * 1000;
          peak.height = value(rng) * 100;
          peak.internalStandardArea = value(rng) * 1000;
          peak.signalToNoise = value(rng);
          result.peak = peak;
          sample.results.push_back(result);
          c.dispositions.push_back(Disposition{});
        }
        c.message.samples.push_back(sample);
      }
      c.outbound.push_back({"lis", "C" + std::to_string(m), std::string(600, 'P')});
      if (!store->commitInbound(c).isOk()) ++failures;
    }
  };
  std::vector<std::thread> writers;
  for (unsigned t = 0; t < 8; ++t) writers.emplace_back(writer, t + 1);
  for (auto& t : writers) t.join();
  const double generated = secondsSince(start);
  start = Clock::now();
  for (;;) {
    std::vector<OutboundItem> items = store->claimQueued("lis", 1000, {});
    if (items.empty()) break;
    std::vector<OutboundOutcome> outcomes;
    for (auto& item : items) {
      OutboundOutcome o;
      o.item = item;
      o.ackCode = "AA";
      outcomes.push_back(o);
    }
    if (!store->recordOutcomes(outcomes).isOk()) {
      std::cerr << "delivery failed\n";
      return 1;
    }
  }
  const double delivered = secondsSince(start);
  const int64_t totalResults = messages * samples * results;
  std::printf(
      "generated %lld messages (%lld results with peaks, %s of bodies) in %.1f s, "
      "delivered in %.1f s, %d failures\n",
      static_cast<long long>(messages), static_cast<long long>(totalResults),
      mib(messages * bodyBytes).c_str(), generated, delivered, failures.load());

  // ---- archive and prune the older half ------------------------------------------------------
  store.reset();  // checkpoint the WAL into the file: sizes are the file's
  store = Store::open(dataDir, std::make_shared<security::Keyring>(kek)).value();
  const int64_t before = fileBytes(db);
  retention::RetentionStore retention(*store);
  const std::string bound = isoDaysAgo(now, 365);
  const std::string archive = Poco::Path(dir).append("half.lga").toString();
  start = Clock::now();
  auto written = retention.writeArchive(bound, kek, archive, dir, "bench");
  if (!written.isOk()) {
    std::cerr << written.status().toString() << "\n";
    return 1;
  }
  const double archived = secondsSince(start);
  start = Clock::now();
  auto pruned = retention.pruneArchive(written.value().ledgerId, "bench");
  if (!pruned.isOk()) {
    std::cerr << pruned.status().toString() << "\n";
    return 1;
  }
  const double prunedSeconds = secondsSince(start);
  start = Clock::now();
  auto verified = retention::verifyArchive(archive, kek, dir);
  const double verifiedSeconds = secondsSince(start);
  store.reset();
  const int64_t afterPrune = fileBytes(db);
  const int64_t freePages = pragma(db, "freelist_count");
  const int64_t pageSize = pragma(db, "page_size");
  start = Clock::now();
  {
    Poco::Data::Session s("SQLite", db);
    s << "VACUUM", Poco::Data::Keywords::now;
    s << "PRAGMA wal_checkpoint(TRUNCATE)", Poco::Data::Keywords::now;
  }
  const double vacuumed = secondsSince(start);
  const int64_t afterVacuum = fileBytes(db);

  const auto& w = written.value();
  std::printf("| step | time | result |\n|---|---|---|\n");
  std::printf(
      "| archive (write, fsync, verify, record) %lld messages | %.1f s | %s file (%lld "
      "bodies, %s; %lld peak rows) |\n",
      static_cast<long long>(w.summary.messages), archived, mib(w.bytes).c_str(),
      static_cast<long long>(w.summary.bodies), mib(w.summary.bodyBytes).c_str(),
      static_cast<long long>(w.summary.peaks));
  std::printf(
      "| prune (audited, %lld-message transactions) | %.1f s | %lld messages, %lld peaks "
      "|\n",
      200LL, prunedSeconds, static_cast<long long>(pruned.value().messages),
      static_cast<long long>(pruned.value().peaks));
  std::printf("| archive verify | %.1f s | %s |\n", verifiedSeconds,
              verified.isOk() ? "verified" : verified.status().toString().c_str());
  std::printf("| database file before | | %s |\n", mib(before).c_str());
  std::printf("| after pruning | | %s (%s on the free list) |\n", mib(afterPrune).c_str(),
              mib(freePages * pageSize).c_str());
  std::printf("| VACUUM (engine stopped) | %.1f s | %s |\n", vacuumed, mib(afterVacuum).c_str());
  std::printf("data in %s\n", dir.c_str());
  return 0;
}
