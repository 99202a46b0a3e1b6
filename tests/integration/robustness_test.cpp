// Robustness of the ASTM connector against misbehaving peers: garbage bytes, a peer that stalls
// mid-message, a peer that disconnects mid-message, all while a good instrument sends
// concurrently; and a message over connector.NAME.astm.max_message_bytes.
#include <algorithm>
#include <future>
#include <random>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

class RobustnessTest : public EngineTest {};

// The first records of a message (H, P, O, R) without the terminator.
std::vector<astm::FrameText> unfinishedFrames(const std::string& sampleId) {
  auto frames =
      astm::splitIntoFrames(buildAstmMessage({{sampleId, {{"GLU", "5.9", "mmol/L"}}, {}}}),
                            astm::Framing::kRecordPerFrame);
  frames.pop_back();  // drop the L record
  return frames;
}

TEST_F(RobustnessTest, MisbehavingPeersDoNotDisturbAGoodInstrument) {
  config_.connectors[0].receiveTimeoutSeconds = 2;
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  // 1. Garbage: 4 KB of pseudo-random bytes (fixed seed), no ENQ first.
  AstmInstrument garbage(astmPort());
  {
    std::mt19937 random(20240301);
    std::string bytes;
    for (int i = 0; i < 4096; ++i) bytes += static_cast<char>(random() & 0xFF);
    bytes.erase(std::remove(bytes.begin(), bytes.end(), astm::kEnq), bytes.end());
    garbage.sendRaw(bytes);
  }

  // 2. A peer that stalls after part of a message.
  const std::string stalledSample = newSampleId("STALL");
  auto stalledFrames = unfinishedFrames(stalledSample);
  AstmInstrument staller(astmPort());
  ASSERT_EQ(staller.enq(), astm::kAck);
  for (const auto& f : stalledFrames) ASSERT_EQ(staller.sendFrame(f.text, f.final), astm::kAck);

  // 3. A peer that disconnects after part of a message.
  const std::string droppedSample = newSampleId("DROP");
  {
    AstmInstrument dropper(astmPort());
    ASSERT_EQ(dropper.enq(), astm::kAck);
    for (const auto& f : unfinishedFrames(droppedSample)) {
      ASSERT_EQ(dropper.sendFrame(f.text, f.final), astm::kAck);
    }
  }  // closed here, mid-message

  // 4. Meanwhile a good instrument, on its own thread, sends a complete message.
  const std::string goodSample = newSampleId("GOOD");
  auto good = std::async(std::launch::async, [&] {
    AstmInstrument instrument(astmPort());
    return instrument.sendSession(
        buildAstmMessage({{goodSample, {{"CREA", "0.91", "mg/dL"}}, {}}}));
  });
  Transfer goodTransfer = good.get();
  EXPECT_TRUE(goodTransfer.complete) << "good instrument: frame " << goodTransfer.replies.size()
                                     << " answered " << astm::replyName(goodTransfer.finalReply);
  EXPECT_TRUE(waitForSample(goodSample)) << "the good message was not delivered";

  // The stalled and the dropped messages are discarded (receive timeout 2 s, disconnect).
  EXPECT_TRUE(
      waitUntil([&] { return health().connector("lab1", "messages_discarded") >= 2; }, 20000ms))
      << "messages_discarded should count the stalled and the dropped message, /health shows "
      << health().connector("lab1", "messages_discarded");

  // The staller wakes up and finishes its message: the receiver has gone idle and discarded the
  // partial message, so the L frame must not complete (and commit) it.
  int late = staller.sendFrame(astm::record('L', {{2, "1"}, {3, "N"}}) + "\r", true, 5000ms);
  EXPECT_NE(late, astm::kAck) << "a frame after the receive timeout completed a discarded message";
  staller.close();
  garbage.close();

  // The engine still serves a new connection.
  const std::string afterSample = newSampleId("AFTER");
  {
    AstmInstrument instrument(astmPort());
    Transfer t =
        instrument.sendSession(buildAstmMessage({{afterSample, {{"K", "4.3", "mmol/L"}}, {}}}));
    EXPECT_TRUE(t.complete) << "new connection after the misbehaving peers: "
                            << astm::replyName(t.finalReply);
  }
  ASSERT_TRUE(waitForSample(afterSample)) << "message on a fresh connection not delivered";
  auto messages = lis_->messages();
  EXPECT_EQ(timesReceived(messages, stalledSample), 0u) << "stalled partial message delivered";
  EXPECT_EQ(timesReceived(messages, droppedSample), 0u) << "dropped partial message delivered";
  EXPECT_EQ(receivedSampleIds(messages), (std::vector<std::string>{goodSample, afterSample}));
  EXPECT_EQ(settledConnector("messages_accepted", 2), 2);
  EXPECT_TRUE(engine_->running());
}

TEST_F(RobustnessTest, ConcurrentInstrumentsAreAllDeliveredOnceInTheirOwnOrder) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const int instruments = 4, perInstrument = 5;
  std::vector<std::vector<std::string>> ids(instruments);
  for (int i = 0; i < instruments; ++i) {
    for (int j = 0; j < perInstrument; ++j)
      ids[i].push_back(newSampleId("C" + std::to_string(i) + "X"));
  }
  std::vector<std::future<bool>> senders;
  senders.reserve(instruments);
  for (int i = 0; i < instruments; ++i) {
    senders.push_back(std::async(std::launch::async, [&, i] {
      AstmInstrument instrument(astmPort());
      for (const auto& id : ids[i]) {
        if (!instrument.sendSession(buildAstmMessage({{id, {{"GLU", "5.8", "mmol/L"}}, {}}}))
                 .complete) {
          return false;
        }
      }
      return true;
    }));
  }
  for (int i = 0; i < instruments; ++i) EXPECT_TRUE(senders[i].get()) << "instrument " << i + 1;
  ASSERT_TRUE(lis_->waitFor(
      [&](const auto& m) {
        for (const auto& list : ids) {
          for (const auto& id : list) {
            if (timesReceived(m, id) == 0) return false;
          }
        }
        return true;
      },
      60000ms))
      << "not every message of the concurrent instruments arrived";
  auto received = receivedSampleIds(lis_->messages());
  EXPECT_EQ(received.size(), static_cast<size_t>(instruments * perInstrument)) << "duplicates";
  for (int i = 0; i < instruments; ++i) {
    std::vector<std::string> mine;
    for (const auto& id : received) {
      if (std::find(ids[i].begin(), ids[i].end(), id) != ids[i].end()) mine.push_back(id);
    }
    EXPECT_EQ(mine, ids[i]) << "instrument " << i + 1 << ": its messages out of order";
  }
  EXPECT_EQ(settledConnector("messages_accepted", instruments * perInstrument),
            instruments * perInstrument);
}

TEST_F(RobustnessTest, OversizedMessageIsRefusedAndNotStored) {
  config_.connectors[0].extra["astm.max_message_bytes"] = "4096";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const std::string hugeSample = newSampleId("HUGE");
  TestSample huge{hugeSample, {}, {}};
  for (int i = 0; i < 130; ++i) huge.results.push_back({"GLU", "5.6", "mmol/L"});
  auto records = buildAstmMessage({huge});
  size_t total = 0;
  for (const auto& r : records) total += r.size() + 1;
  ASSERT_GT(total, 6000u) << "the test message must exceed the 4096-byte limit clearly";

  {
    AstmInstrument instrument(astmPort());
    ASSERT_EQ(instrument.enq(), astm::kAck);
    Transfer t = instrument.sendMessage(records);
    EXPECT_FALSE(t.complete) << "a message over max_message_bytes was accepted";
    EXPECT_EQ(t.finalReply, astm::kNak)
        << "the oversized message was answered " << astm::replyName(t.finalReply) << " at frame "
        << t.replies.size();
    instrument.eot();
  }

  // The connector still works, and only the small message goes out.
  const std::string smallSample = newSampleId("SMALL");
  {
    AstmInstrument instrument(astmPort());
    Transfer t =
        instrument.sendSession(buildAstmMessage({{smallSample, {{"K", "4.0", "mmol/L"}}, {}}}));
    ASSERT_TRUE(t.complete) << "message after the oversized one: " << astm::replyName(t.finalReply);
  }
  ASSERT_TRUE(waitForSample(smallSample));
  EXPECT_EQ(timesReceived(lis_->messages(), hugeSample), 0u);
  EXPECT_EQ(settledConnector("messages_accepted", 1), 1);

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  std::vector<std::string> databaseFiles;
  for (const auto& f : listFilesRecursive(config_.dataDir)) {
    if (f.find("labgate.db") != std::string::npos) databaseFiles.push_back(f);
  }
  EXPECT_FALSE(databaseFiles.empty());
  for (const auto& hit : findSecretsInFiles(databaseFiles, {{"oversized sample id", hugeSample}})) {
    ADD_FAILURE() << "part of the oversized message was stored: " << hit.label << " in "
                  << hit.where;
  }
}

}  // namespace
}  // namespace labgate::it
