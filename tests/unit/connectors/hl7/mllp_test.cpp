// Tests for connectors/hl7/mllp: framing, reassembly across arbitrary chunk boundaries, several
// frames per chunk, bytes outside frames, and the frame size limit.
#include "connectors/hl7/mllp.h"

#include <gtest/gtest.h>

namespace labgate::hl7 {
namespace {

const std::string kMsg1 = "MSH|^~\\&|A|B|C|D|20250101120000||ORU^R01|1|P|2.5.1\rOBX|1|NM|X||1\r";
const std::string kMsg2 = "MSH|^~\\&|A|B|C|D|20250101120001||ORU^R01|2|P|2.5.1\r";

TEST(FrameMllp, WrapsTheMessage) {
  EXPECT_EQ(frameMllp("abc"), std::string("\x0B"
                                          "abc"
                                          "\x1C\x0D"));
  EXPECT_EQ(frameMllp(""), std::string("\x0B\x1C\x0D"));
}

TEST(MllpDecoder, DecodesOneFrameInOneChunk) {
  MllpDecoder decoder;
  auto frames = decoder.feed(frameMllp(kMsg1));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], kMsg1);
  EXPECT_TRUE(decoder.lastProblem().empty());
  EXPECT_EQ(decoder.ignoredBytes(), 0u);
  EXPECT_FALSE(decoder.inFrame());
}

TEST(MllpDecoder, ReassemblesAcrossEveryChunkBoundary) {
  const std::string stream = frameMllp(kMsg1) + frameMllp(kMsg2);
  for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    MllpDecoder decoder;
    std::vector<std::string> frames;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      for (auto& f : decoder.feed(std::string_view(stream).substr(i, chunk))) frames.push_back(f);
    }
    ASSERT_EQ(frames.size(), 2u) << "chunk size " << chunk;
    EXPECT_EQ(frames[0], kMsg1);
    EXPECT_EQ(frames[1], kMsg2);
    EXPECT_EQ(decoder.ignoredBytes(), 0u) << "chunk size " << chunk;
  }
}

TEST(MllpDecoder, SplitsBetweenEndBlockAndCarriageReturn) {
  MllpDecoder decoder;
  std::string framed = frameMllp(kMsg2);
  EXPECT_TRUE(decoder.feed(framed.substr(0, framed.size() - 2)).empty());
  EXPECT_TRUE(decoder.inFrame());
  EXPECT_EQ(decoder.feed(framed.substr(framed.size() - 2, 1)).size(), 1u);
  EXPECT_TRUE(decoder.feed("\r").empty());
  EXPECT_EQ(decoder.ignoredBytes(), 0u);
}

TEST(MllpDecoder, ReturnsSeveralFramesFromOneChunkInOrder) {
  MllpDecoder decoder;
  auto frames = decoder.feed(frameMllp("one") + frameMllp("two") + frameMllp("three"));
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], "one");
  EXPECT_EQ(frames[1], "two");
  EXPECT_EQ(frames[2], "three");
}

TEST(MllpDecoder, IgnoresAndCountsBytesOutsideFrames) {
  MllpDecoder decoder;
  auto frames = decoder.feed("noise\r\n" + frameMllp("one") + "\n" + frameMllp("two") + "x");
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1], "two");
  EXPECT_EQ(decoder.ignoredBytes(), 9u);
  EXPECT_TRUE(decoder.lastProblem().empty());
}

TEST(MllpDecoder, ToleratesEndBlockWithoutCarriageReturn) {
  MllpDecoder decoder;
  auto frames =
      decoder.feed(std::string("\x0B"
                               "one\x1C\x0B"
                               "two\x1C"));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0], "one");
  EXPECT_EQ(frames[1], "two");
}

TEST(MllpDecoder, DropsAnOversizeFrameAndRecovers) {
  MllpDecoder decoder(16);
  std::string big(40, 'A');
  auto frames = decoder.feed(frameMllp(big).substr(0, 20));
  EXPECT_TRUE(frames.empty());
  EXPECT_NE(decoder.lastProblem().find("limit of 16 bytes"), std::string::npos);
  EXPECT_EQ(decoder.lastProblem().find("AAAA"), std::string::npos);  // never quotes content
  frames = decoder.feed(frameMllp(big).substr(20) + frameMllp("small"));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], "small");
  EXPECT_EQ(decoder.droppedFrames(), 1u);
  EXPECT_TRUE(decoder.lastProblem().empty());  // describes the latest feed only
}

TEST(MllpDecoder, AcceptsAFrameOfExactlyTheLimit) {
  MllpDecoder decoder(5);
  auto frames = decoder.feed(frameMllp("12345") + frameMllp("123456") + frameMllp("ok"));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0], "12345");
  EXPECT_EQ(frames[1], "ok");
  EXPECT_EQ(decoder.droppedFrames(), 1u);
}

TEST(MllpDecoder, OversizeFrameWithoutEndIsEndedByTheNextStart) {
  MllpDecoder decoder(8);
  auto frames = decoder.feed(std::string("\x0B") + std::string(30, 'B') + frameMllp("next"));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], "next");
}

TEST(MllpDecoder, AbandonsAnUnfinishedFrameWhenANewOneStarts) {
  MllpDecoder decoder;
  auto frames = decoder.feed(std::string("\x0B"
                                         "partial") +
                             frameMllp("whole"));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], "whole");
  EXPECT_EQ(decoder.droppedFrames(), 1u);
  EXPECT_FALSE(decoder.lastProblem().empty());
}

TEST(MllpDecoder, ResetForgetsAPartialFrame) {
  MllpDecoder decoder;
  decoder.feed(
      std::string("\x0B"
                  "partial"));
  EXPECT_TRUE(decoder.inFrame());
  decoder.reset();
  EXPECT_FALSE(decoder.inFrame());
  auto frames = decoder.feed("tail\x1C\r" + frameMllp("good"));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], "good");
}

}  // namespace
}  // namespace labgate::hl7
