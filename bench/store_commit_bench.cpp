// Benchmark of the store's durable inbound commit (synchronous=FULL) with 1..8 concurrent
// writers: group commit should raise messages/s with more writers, never by weaker durability.
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <benchmark/benchmark.h>

#include <cstdio>

#include "engine/store/audit.h"
#include "engine/store/store.h"

namespace {

// "S12": formatted, not "S" + std::to_string(i), which trips GCC 12's -Wrestrict false positive
// (GCC bug 105329) in Release builds.
std::string numbered(char prefix, int n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%c%d", prefix, n);
  return buf;
}

labgate::InboundCommit makeCommit(int i) {
  labgate::InboundCommit c;
  c.connector = "bench";
  c.instrument = "tq-01";
  c.format = "astm";
  c.receivedAt = labgate::isoNow();
  c.contentSha256 = labgate::sha256Hex(std::to_string(i));
  labgate::Sample s;
  s.sampleId = numbered('S', i);
  for (int r = 0; r < 5; ++r) {
    labgate::Result result;
    result.instrumentCode = numbered('A', r);
    result.value = "12.5";
    result.numeric = 12.5;
    s.results.push_back(result);
    c.dispositions.emplace_back();
  }
  c.message.samples.push_back(s);
  c.outbound.push_back({"lis", numbered('C', i), std::string(600, 'x')});
  return c;
}

std::shared_ptr<labgate::Store> g_store;
std::string g_dir;

void BM_CommitInbound(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_dir = Poco::TemporaryFile::tempName();
    g_store = labgate::Store::open(g_dir).value();
  }
  // Wait for thread 0's set-up; Google Benchmark starts timing after all threads reach the loop.
  int i = static_cast<int>(state.thread_index()) * 1000000;
  for (auto _ : state) {
    auto id = g_store->commitInbound(makeCommit(i++));
    if (!id.isOk()) state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    g_store.reset();
    Poco::File(g_dir).remove(true);
  }
}
BENCHMARK(BM_CommitInbound)->ThreadRange(1, 8)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
