// Tests of the E1381 receiver state machine and the frame builders (connectors/astm/framing.h).
#include "connectors/astm/framing.h"

#include <gtest/gtest.h>

#include <random>

#include "astm_test_util.h"

namespace labgate::astm {
namespace {

using testing::countOf;
using testing::Harness;
using testing::syntheticMessage;

const std::string kEnqStr(1, kEnq);
const std::string kEotStr(1, kEot);
const std::string kAckStr(1, kAck);
const std::string kNakStr(1, kNak);

std::string session(const std::string& frames) { return kEnqStr + frames + kEotStr; }

// The synthetic message's text without the trailing CR the receiver strips.
std::string expectedText(const std::string& message) { return message; }

TEST(Checksum, KnownValues) {
  EXPECT_EQ(frameChecksum("1H|\\^&|||SynthAnalyzer^1.0|||||||P|LIS2-A2|20240101120000\r\x03"),
            "B5");
  EXPECT_EQ(frameChecksum("2L|1|N\r\x03"), "05");
  EXPECT_EQ(frameChecksum("5R|1|^^^GLU|5.5|mmol/L||N||F\r\x17"), "1A");
  EXPECT_EQ(frameChecksum(""), "00");
  EXPECT_EQ(frameChecksum(std::string(256, '\x01')), "00");  // modulo 256
}

TEST(BuildFrame, LayoutAndFrameNumberWrap) {
  const std::string frame = buildFrame(9, "L|1|N\r", true);
  EXPECT_EQ(frame, std::string("\x02") + "1L|1|N\r\x03" + frameChecksum("1L|1|N\r\x03") + "\r\n");
  EXPECT_EQ(buildFrame(8, "x", false)[1], '0');
  EXPECT_EQ(buildFrame(7, "x", false)[1], '7');
}

TEST(Receiver, DeliversSingleMessageAndAcksEveryFrame) {
  Harness h;
  const std::string frames = frameMessage(syntheticMessage());
  const std::string reply = h.feed(session(frames));
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], expectedText(syntheticMessage()));
  EXPECT_EQ(reply, std::string(1 + countOf(frames, kStx), kAck));
  EXPECT_EQ(h.receiver.stats().framesAccepted, countOf(frames, kStx));
  EXPECT_EQ(h.receiver.stats().framesRejected, 0u);
  EXPECT_FALSE(h.receiver.busy());
}

TEST(Receiver, FrameNumbersWrapFromSevenToZero) {
  AstmOptions options;
  options.strictFrameNumbers = true;
  Harness h(options);
  std::string text = "H|\\^&\r";
  for (int i = 1; i <= 10; ++i) text += "R|" + std::to_string(i) + "|^^^T|1\r";
  text += "L|1|N";
  const std::string frames = frameMessage(text);
  ASSERT_EQ(countOf(frames, kStx), 12u);
  const std::string reply = h.feed(session(frames));
  EXPECT_EQ(reply, std::string(13, kAck));
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], text);
}

TEST(Receiver, StrictFrameNumbersNakOutOfSequence) {
  AstmOptions options;
  options.strictFrameNumbers = true;
  Harness h(options);
  EXPECT_EQ(h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true)), kAckStr + kAckStr);
  EXPECT_EQ(h.feed(buildFrame(3, "P|1\r", true)), kNakStr);
  EXPECT_NE(h.receiver.lastProblem().find("out of sequence"), std::string::npos);
  EXPECT_EQ(h.feed(buildFrame(2, "P|1\r", true)), kAckStr);
}

TEST(Receiver, LenientFrameNumbersAcceptOutOfSequence) {
  Harness h;
  const std::string reply =
      h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true) + buildFrame(1, "P|1\r", true) +
             buildFrame(5, "L|1|N\r", true) + kEotStr);
  EXPECT_EQ(reply, std::string(4, kAck));
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], "H|\\^&\rP|1\rL|1|N");
}

TEST(Receiver, BadChecksumIsNakedThenRetransmissionAccepted) {
  Harness h;
  std::string bad = buildFrame(1, "H|\\^&\r", true);
  bad[bad.size() - 3] = bad[bad.size() - 3] == '0' ? '1' : '0';  // corrupt the low digit
  EXPECT_EQ(h.feed(kEnqStr + bad), kAckStr + kNakStr);
  EXPECT_EQ(h.receiver.lastProblem(), "checksum mismatch in frame 1");
  EXPECT_EQ(h.feed(buildFrame(1, "H|\\^&\r", true)), kAckStr);
  EXPECT_EQ(h.feed(buildFrame(2, "L|1|N\r", true) + kEotStr), kAckStr);
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], "H|\\^&\rL|1|N");
  EXPECT_EQ(h.receiver.stats().framesRejected, 1u);
}

TEST(Receiver, CorruptedTextIsNaked) {
  Harness h;
  std::string frame = buildFrame(1, "H|\\^&|||X\r", true);
  frame[5] = 'Y';  // a bit flipped in transit, checksum unchanged
  EXPECT_EQ(h.feed(kEnqStr + frame), kAckStr + kNakStr);
}

TEST(Receiver, LowercaseChecksumAcceptedUnlessDisabled) {
  std::string frame =
      buildFrame(1, "H|\\^&|||SynthAnalyzer^1.0|||||||P|LIS2-A2|20240101120000\r", true);
  ASSERT_EQ(frame.substr(frame.size() - 4, 2), "B5");
  frame[frame.size() - 4] = 'b';
  Harness lenient;
  EXPECT_EQ(lenient.feed(kEnqStr + frame), kAckStr + kAckStr);
  AstmOptions strict;
  strict.allowLowercaseChecksum = false;
  Harness h(strict);
  EXPECT_EQ(h.feed(kEnqStr + frame), kAckStr + kNakStr);
}

TEST(Receiver, DuplicateFrameAfterLostAckIsNotAppendedTwice) {
  Harness h;
  const std::string header = buildFrame(1, "H|\\^&\r", true);
  const std::string patient = buildFrame(2, "P|1\r", true);
  EXPECT_EQ(h.feed(kEnqStr + header + patient + patient), std::string(4, kAck));
  EXPECT_EQ(h.feed(buildFrame(3, "L|1|N\r", true)), kAckStr);
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], "H|\\^&\rP|1\rL|1|N");
  EXPECT_EQ(h.receiver.stats().framesDuplicated, 1u);
}

TEST(Receiver, RepeatedFinalFrameAfterDeliveryIsNotDeliveredTwice) {
  Harness h;
  const std::string last = buildFrame(2, "L|1|N\r", true);
  h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true) + last);
  EXPECT_EQ(h.feed(last + kEotStr), kAckStr);
  EXPECT_EQ(h.messages.size(), 1u);
}

TEST(Receiver, EtbContinuationConcatenatedWithoutInsertion) {
  Harness h;
  const std::string frames = buildFrame(1, "H|\\^&\r", true) + buildFrame(2, "R|1|^^^GL", false) +
                             buildFrame(3, "U|5.", false) + buildFrame(4, "5\r", true) +
                             buildFrame(5, "L|1|N\r", true);
  EXPECT_EQ(h.feed(session(frames)), std::string(6, kAck));
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], "H|\\^&\rR|1|^^^GLU|5.5\rL|1|N");
}

TEST(Receiver, EndFrameWithoutCarriageReturnEndsRecord) {
  Harness h;
  h.feed(session(buildFrame(1, "H|\\^&", true) + buildFrame(2, "L|1|N", true)));
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], "H|\\^&\rL|1|N");
}

TEST(Receiver, OverlongFramesAcceptedUpToLimit) {
  Harness h;
  std::string text = "H|\\^&\r";
  for (int i = 0; i < 250; ++i) {
    text += "R|" + std::to_string(i + 1) + "|^^^T" + std::to_string(i) + "|12.5|U||N||F\r";
  }
  text += "L|1|N\r";
  ASSERT_GT(text.size(), 5000u);
  EXPECT_EQ(h.feed(session(buildFrame(1, text, true))), kAckStr + kAckStr);
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0] + "\r", text);
}

TEST(Receiver, FrameOverMaxFrameBytesIsNakedAndReceiverRecovers) {
  AstmOptions options;
  options.maxFrameBytes = 300;
  Harness h(options);
  const std::string big = buildFrame(1, "H|\\^&|||" + std::string(500, 'A') + "\r", true);
  const std::string reply = h.feed(kEnqStr + big);
  EXPECT_EQ(reply, kAckStr + kNakStr);
  EXPECT_NE(h.receiver.lastProblem().find("exceeds 300 bytes"), std::string::npos);
  EXPECT_EQ(h.feed(frameMessage(syntheticMessage()) + kEotStr), std::string(6, kAck));
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], syntheticMessage());
}

TEST(Receiver, MessageOverMaxMessageBytesIsDiscarded) {
  AstmOptions options;
  options.maxMessageBytes = 100;
  Harness h(options);
  EXPECT_EQ(h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true)), kAckStr + kAckStr);
  std::string reply;
  for (int i = 0; i < 10 && reply.empty(); ++i) {
    reply = h.feed(buildFrame(i + 2, "R|" + std::to_string(i + 1) + "|^^^T|1234567890\r", true));
    if (reply == kAckStr) reply.clear();
  }
  EXPECT_EQ(reply, kNakStr);
  EXPECT_EQ(h.receiver.lastProblem(), "message exceeds 100 bytes");
  EXPECT_EQ(h.receiver.stats().messagesDiscarded, 1u);
  // The sender's retransmissions are refused until it gives up; the next session starts clean.
  EXPECT_EQ(h.feed(buildFrame(7, "L|1|N\r", true) + kEotStr), kNakStr);
  EXPECT_TRUE(h.messages.empty());
  EXPECT_EQ(h.feed(session(frameMessage("H|\\^&\rL|1|N"))), std::string(3, kAck));
  EXPECT_EQ(h.messages.size(), 1u);
}

TEST(Receiver, GarbageInIdleIsIgnored) {
  AstmOptions options;
  options.acceptUnframed = false;
  Harness h(options);
  const std::string garbage = "noise\x01\x02\x03\xff\r\nH|not a session\x06\x15";
  EXPECT_EQ(h.feed(garbage), "");
  EXPECT_EQ(h.receiver.stats().bytesIgnored, garbage.size());
  EXPECT_EQ(h.feed(session(frameMessage(syntheticMessage()))), std::string(7, kAck));
  EXPECT_EQ(h.messages.size(), 1u);
}

TEST(Receiver, EotMidMessageDiscards) {
  Harness h;
  h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true) + buildFrame(2, "P|1\r", true) + kEotStr);
  EXPECT_TRUE(h.messages.empty());
  EXPECT_EQ(h.receiver.stats().messagesDiscarded, 1u);
  EXPECT_EQ(h.receiver.lastProblem(), "session ended (EOT) before the terminator record");
  EXPECT_FALSE(h.receiver.busy());
}

TEST(Receiver, EotMidMessageDeliversWhenConfigured) {
  AstmOptions options;
  options.deliverWithoutTerminator = true;
  Harness h(options);
  h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true) + buildFrame(2, "P|1\r", true) + kEotStr);
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], "H|\\^&\rP|1");
}

TEST(Receiver, EnqMidSessionResets) {
  Harness h;
  const std::string reply = h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true) + "\x02" + "2P|1" +
                                   kEnqStr + frameMessage(syntheticMessage()) + kEotStr);
  EXPECT_EQ(reply, std::string(1 + 1 + 1 + 6, kAck));
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], syntheticMessage());
  EXPECT_EQ(h.receiver.stats().messagesDiscarded, 1u);
}

TEST(Receiver, TimeoutDiscardsPartialMessage) {
  Harness h;
  h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true));
  EXPECT_FALSE(h.receiver.checkTimeout(h.now + std::chrono::seconds(29)));
  EXPECT_TRUE(h.receiver.busy());
  EXPECT_TRUE(h.receiver.checkTimeout(h.now + std::chrono::seconds(31)));
  EXPECT_EQ(h.receiver.lastProblem(), "receive timeout mid-message");
  EXPECT_FALSE(h.receiver.busy());
  // The late rest of the message arrives in idle and is ignored.
  h.now += std::chrono::seconds(40);
  EXPECT_EQ(h.feed(buildFrame(2, "L|1|N\r", true)), "");
  EXPECT_TRUE(h.messages.empty());
}

TEST(Receiver, TimeoutWithoutPartialMessageReturnsFalse) {
  Harness h;
  h.feed(kEnqStr);
  EXPECT_FALSE(h.receiver.checkTimeout(h.now + std::chrono::minutes(5)));
  EXPECT_FALSE(h.receiver.busy());
}

TEST(Receiver, ConnectionClosedDiscardsPartialMessage) {
  Harness h;
  h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true) + "\x02" + "2P|");
  EXPECT_TRUE(h.receiver.connectionClosed());
  EXPECT_FALSE(h.receiver.busy());
  EXPECT_FALSE(h.receiver.connectionClosed());
}

TEST(Receiver, SinkRefusalNaksFinalFrameAndRetransmissionRedelivers) {
  Harness h;
  h.accept = false;
  const std::string last = buildFrame(2, "L|1|N\r", true);
  EXPECT_EQ(h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true) + last), kAckStr + kAckStr + kNakStr);
  EXPECT_EQ(h.receiver.lastProblem(), "message refused by the sink");
  h.accept = true;
  EXPECT_EQ(h.feed(last + kEotStr), kAckStr);
  ASSERT_EQ(h.messages.size(), 2u);
  EXPECT_EQ(h.messages[0], h.messages[1]);
  EXPECT_EQ(h.receiver.stats().messagesDelivered, 1u);
}

TEST(Receiver, TooManyNaksDiscardPartialMessage) {
  Harness h;
  std::string bad = buildFrame(2, "P|1\r", true);
  bad[bad.size() - 3] = bad[bad.size() - 3] == '0' ? '1' : '0';
  h.feed(kEnqStr + buildFrame(1, "H|\\^&\r", true));
  for (int i = 0; i < 7; ++i) EXPECT_EQ(h.feed(bad), kNakStr);
  EXPECT_EQ(h.receiver.stats().messagesDiscarded, 1u);
  EXPECT_NE(h.receiver.lastProblem().find("too many consecutive NAKs"), std::string::npos);
}

TEST(Receiver, TwoMessagesInOneSession) {
  Harness h;
  const std::string frames =
      frameMessage(syntheticMessage("SMP-A")) + frameMessage(syntheticMessage("SMP-B"), 240, 7);
  EXPECT_EQ(h.feed(session(frames)), std::string(13, kAck));
  ASSERT_EQ(h.messages.size(), 2u);
  EXPECT_EQ(h.messages[0], syntheticMessage("SMP-A"));
  EXPECT_EQ(h.messages[1], syntheticMessage("SMP-B"));
}

TEST(Receiver, ByteAtATimeEqualsAllAtOnce) {
  std::string stream = "junk" + session(frameMessage(syntheticMessage(), 20));
  std::string bad = buildFrame(1, "H|\\^&\r", true);
  bad[bad.size() - 3] ^= 1;
  stream +=
      kEnqStr + bad + buildFrame(1, "H|\\^&\r", true) + buildFrame(2, "L|1|N\r", true) + kEotStr;
  Harness whole;
  Harness bytewise;
  EXPECT_EQ(whole.feed(stream), bytewise.feedBytewise(stream));
  EXPECT_EQ(whole.messages, bytewise.messages);
  EXPECT_EQ(whole.messages.size(), 2u);
  EXPECT_EQ(whole.receiver.stats().framesAccepted, bytewise.receiver.stats().framesAccepted);
  EXPECT_EQ(whole.receiver.stats().framesRejected, 1u);
}

TEST(Receiver, TrailerToleranceLfOnlyCrOnlyAndNone) {
  const std::string frames = frameMessage(syntheticMessage());
  auto rewrite = [&](const std::string& trailer) {
    std::string out;
    for (size_t i = 0; i < frames.size(); ++i) {
      if (frames[i] == kCr && i + 1 < frames.size() && frames[i + 1] == kLf) {
        out += trailer;
        ++i;
      } else {
        out += frames[i];
      }
    }
    return out;
  };
  for (const std::string trailer : {"\n", "\r", ""}) {
    Harness h;
    EXPECT_EQ(h.feed(session(rewrite(trailer))), std::string(7, kAck));
    ASSERT_EQ(h.messages.size(), 1u);
    EXPECT_EQ(h.messages[0], syntheticMessage());
  }
}

TEST(Receiver, MissingFrameNumberAndChecksumAcceptedWhenAllowed) {
  const std::string stream = kEnqStr + "\x02" + "H|\\^&\rP|1\rL|1|N\r\x03" + kEotStr;
  Harness h;
  EXPECT_EQ(h.feed(stream), kAckStr + kAckStr);
  ASSERT_EQ(h.messages.size(), 1u);
  AstmOptions strict;
  strict.allowMissingChecksum = false;
  Harness s(strict);
  EXPECT_EQ(s.feed(stream), kAckStr + kNakStr);
  EXPECT_TRUE(s.messages.empty());
}

TEST(Receiver, HighBytesPassThroughOpaque) {
  Harness h;
  const std::string text = "H|\\^&\rR|1|^^^IBIL-D \xb5|3|\xb5mol/L\rL|1|N";
  h.feed(session(frameMessage(text)));
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], text);
}

/// Unframed records are off by default (issue 18, finding 9): these tests ask for them.
AstmOptions unframedOn() {
  AstmOptions options;
  options.acceptUnframed = true;
  return options;
}

TEST(Receiver, UnframedRecordsDeliveredWithoutReply) {
  Harness h(unframedOn());
  const std::string records = "H|\\^&|||X\r\nP|1\nO|1|S1\rR|1|^^^A|1\r\nL|1|N\r\n";
  EXPECT_EQ(h.feed(records), "");
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], "H|\\^&|||X\rP|1\rO|1|S1\rR|1|^^^A|1\rL|1|N");
  EXPECT_FALSE(h.receiver.busy());
}

TEST(Receiver, UnframedLastLineWithoutBreakDeliveredAtClose) {
  Harness h(unframedOn());
  h.feed("1H|\\^&\n2P|1\n3L|1|N");
  EXPECT_TRUE(h.messages.empty());
  EXPECT_FALSE(h.receiver.connectionClosed());
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], "H|\\^&\rP|1\rL|1|N");
}

TEST(Receiver, UnframedIgnoredWhenDisabled) {
  AstmOptions options;
  options.acceptUnframed = false;
  Harness h(options);
  h.feed("H|\\^&\rL|1|N\r");
  EXPECT_TRUE(h.messages.empty());
  EXPECT_FALSE(h.receiver.busy());
}

TEST(Receiver, UnframedIncompleteMessageDiscardedOnTimeout) {
  Harness h(unframedOn());
  h.feed("H|\\^&\rP|1\r");
  EXPECT_TRUE(h.receiver.busy());
  EXPECT_TRUE(h.receiver.checkTimeout(h.now + std::chrono::seconds(60)));
  EXPECT_TRUE(h.messages.empty());
}

TEST(Receiver, RandomInputKeepsChunkingInvariance) {
  // Valid frames, corrupted frames and noise mixed by a fixed seed: whatever the bytes, feeding
  // them at once or byte by byte gives the same replies and messages.
  std::mt19937 random(20240101);
  const std::string alphabet = std::string("\x02\x03\x04\x05\x17\r\n|H L1") + "\x06\x15";
  for (int round = 0; round < 200; ++round) {
    std::string stream;
    for (int piece = 0; piece < 6; ++piece) {
      switch (random() % 4) {
        case 0:
          stream += kEnqStr + frameMessage(syntheticMessage(), 1 + random() % 60);
          break;
        case 1: {
          std::string frames = frameMessage(syntheticMessage());
          frames[random() % frames.size()] = alphabet[random() % alphabet.size()];
          stream += frames;
          break;
        }
        case 2:
          for (int i = 0; i < 20; ++i) stream += alphabet[random() % alphabet.size()];
          break;
        default:
          stream += kEotStr;
          break;
      }
    }
    AstmOptions options;
    options.maxFrameBytes = 200;
    options.maxMessageBytes = 400;
    Harness whole(options);
    Harness bytewise(options);
    ASSERT_EQ(whole.feed(stream), bytewise.feedBytewise(stream)) << "round " << round;
    ASSERT_EQ(whole.messages, bytewise.messages) << "round " << round;
    for (const auto& message : whole.messages) EXPECT_LE(message.size(), 400u);
  }
}

}  // namespace
}  // namespace labgate::astm

namespace labgate::astm {
namespace {

TEST(ReceiverBusy, EnqIsAnsweredNakWhileRefusingSessionsAndAckAfter) {
  int delivered = 0;
  Receiver receiver(AstmOptions{}, [&](std::string_view) {
    ++delivered;
    return true;
  });
  std::string reply;
  auto now = std::chrono::steady_clock::now();
  receiver.setRefuseSessions(true);
  receiver.feed(std::string(1, kEnq), now, reply);
  EXPECT_EQ(reply, std::string(1, kNak));
  EXPECT_EQ(receiver.stats().sessionsRefused, 1u);
  EXPECT_FALSE(receiver.busy()) << "a refused bid leaves the link idle";
  receiver.setRefuseSessions(false);
  reply.clear();
  receiver.feed(std::string(1, kEnq) + buildFrame(1, "H|\\^&\rL|1|N\r", true), now, reply);
  EXPECT_EQ(reply, std::string(1, kAck) + kAck);
  EXPECT_EQ(delivered, 1);
}

}  // namespace
}  // namespace labgate::astm

namespace labgate::astm {
namespace {

TEST(ReceiverAbandon, ARefusedMessageTheSenderGivesUpOnIsAbandonedNotDiscarded) {
  Receiver receiver(AstmOptions{}, [](std::string_view) { return false; });
  std::string reply;
  auto now = std::chrono::steady_clock::now();
  receiver.feed(std::string(1, kEnq) + buildFrame(1, "H|\\^&\r", true) +
                    buildFrame(2, "L|1|N\r", true) + std::string(1, kEot),
                now, reply);
  EXPECT_EQ(reply, std::string(1, kAck) + kAck + kNak);
  EXPECT_EQ(receiver.stats().messagesAbandoned, 1u);
  EXPECT_EQ(receiver.stats().messagesDiscarded, 0u);
}

}  // namespace
}  // namespace labgate::astm
