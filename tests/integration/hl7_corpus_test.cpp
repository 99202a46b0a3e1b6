// Real HL7 v2 files from the shared corpus (../shared/corpus/hl7/*.hl7, read at run time; the test
// skips when it is absent) sent to a running labgated, each file's bytes as they are (CR, LF or
// CRLF segment ends, BOMs, batches) inside one MLLP frame on a fresh connection. Every message
// must be answered (AA/AE/AR, or CA/CE/CR in enhanced mode; never silence), the engine must stay
// up, and files whose PID carries data must be rejected. A table of file → ACK codes and ERR-2
// locations is printed; never field values (the corpus carries test identities).
#include <Poco/DirectoryIterator.h>
#include <Poco/Path.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <set>
#include <thread>

#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

std::string corpusDir() { return sharedDir() + "/corpus/hl7"; }

std::vector<std::string> corpusFiles() {
  std::vector<std::string> files;
  if (!fileExists(corpusDir())) return files;
  for (Poco::DirectoryIterator it(corpusDir()), end; it != end; ++it) {
    if (it->isFile() && Poco::Path(it->path()).getExtension() == "hl7") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

/// Segments of a file whatever its line ends, a leading UTF-8 BOM removed.
std::vector<std::string> fileSegments(std::string bytes) {
  if (bytes.rfind("\xEF\xBB\xBF", 0) == 0) bytes.erase(0, 3);
  return hl7Segments(bytes);
}

struct FileFacts {
  size_t messages = 0;       // MSH segments
  bool enhanced = false;     // some MSH-15/16 set
  bool pidWithData = false;  // some PID field after PID-1 non-empty
  bool negative = false;     // invalid_* / malformed: may be AE as well as AR
};

FileFacts factsOf(const std::string& name, const std::string& bytes) {
  FileFacts facts;
  for (const auto& segment : fileSegments(bytes)) {
    if (segment.rfind("MSH", 0) == 0) {
      ++facts.messages;
      if (!hl7Field(segment, 15).empty() || !hl7Field(segment, 16).empty()) facts.enhanced = true;
    }
    if (segment.rfind("PID|", 0) == 0) {
      auto fields = hl7Fields(segment);
      for (size_t i = 2; i < fields.size(); ++i) {
        if (fields[i].find_first_not_of("^~&") != std::string::npos) facts.pidWithData = true;
      }
    }
  }
  facts.negative = name.rfind("invalid_", 0) == 0 || name.find("malformed") != std::string::npos;
  return facts;
}

bool isAckCode(const std::string& code) {
  static const std::set<std::string> codes{"AA", "AE", "AR", "CA", "CE", "CR"};
  return codes.count(code) > 0;
}

/// What one file's connection brought back.
struct Outcome {
  std::vector<Hl7Ack> acks;
  bool closed = false;
  std::string error;  // connect/send failure
};

/// Sends the file's bytes in one frame on a fresh connection and collects the ACKs: one per MSH at
/// least; in enhanced mode there may be two per message, so a little more is waited for.
Outcome exchangeFile(int port, const std::string& bytes, const FileFacts& facts) {
  Outcome outcome;
  try {
    MllpClient client(port);
    client.send(bytes);
    while (outcome.acks.size() < std::max<size_t>(facts.messages, 1)) {
      auto ack = client.readAck(20000ms);
      if (!ack) break;
      outcome.acks.push_back(*ack);
    }
    if (facts.enhanced && !outcome.acks.empty()) {
      while (auto more = client.readAck(1500ms)) outcome.acks.push_back(*more);
    }
    outcome.closed = client.peerClosed();
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  return outcome;
}

// Files go out in groups on parallel connections (fewer than the connector's default connection
// limit of 16) so that a silent answer costs one timeout per group, not per file.
constexpr size_t kParallel = 8;

class Hl7CorpusTest : public Hl7EngineTest {};

TEST_F(Hl7CorpusTest, EveryCorpusFileIsAnsweredAndPidBearingOnesAreRejected) {
  auto files = corpusFiles();
  if (files.empty()) GTEST_SKIP() << "no HL7 corpus at " << corpusDir();
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  std::cout << "[ corpus   ] " << std::left << std::setw(48) << "file"
            << " msgs  ACKs (code ERR-2)"
            << "\n";
  bool allRefusable = true;
  for (size_t first = 0; first < files.size(); first += kParallel) {
    const size_t last = std::min(files.size(), first + kParallel);
    std::vector<std::string> names, contents;
    std::vector<FileFacts> facts;
    for (size_t i = first; i < last; ++i) {
      names.push_back(Poco::Path(files[i]).getFileName());
      contents.push_back(readFile(files[i]));
      facts.push_back(factsOf(names.back(), contents.back()));
    }
    std::vector<Outcome> outcomes(names.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < names.size(); ++i) {
      threads.emplace_back(
          [&, i] { outcomes[i] = exchangeFile(hl7Port(), contents[i], facts[i]); });
    }
    for (auto& t : threads) t.join();

    for (size_t i = 0; i < names.size(); ++i) {
      SCOPED_TRACE(names[i]);
      const auto& acks = outcomes[i].acks;
      std::string row;
      for (const auto& ack : acks) {
        row.append(ack.code.empty() ? "?" : ack.code);
        if (!ack.errLocation.empty()) row.append(" ").append(ack.errLocation);
        if (!ack.errCode.empty()) row.append(" (").append(ack.errCode).append(")");
        row.append("; ");
      }
      if (acks.empty()) {
        row = !outcomes[i].error.empty()
                  ? std::string("no ACK (").append(outcomes[i].error).append(")")
              : outcomes[i].closed ? "no ACK (connection closed)"
                                   : "no ACK (silence)";
      }
      std::cout << "[ corpus   ] " << std::left << std::setw(48) << names[i] << " " << std::setw(5)
                << facts[i].messages << " " << row << "\n";

      EXPECT_GE(acks.size(), std::max<size_t>(facts[i].messages, 1))
          << "every message of the file must be acknowledged";
      for (const auto& ack : acks) {
        EXPECT_TRUE(ack.wellFormed()) << "an answer that is not an HL7 ACK";
        EXPECT_TRUE(isAckCode(ack.code)) << "MSA-1 '" << ack.code << "'";
        if (facts[i].pidWithData) {
          EXPECT_FALSE(ack.code == "AA" || ack.code == "CA") << "a file with PID data was accepted";
        }
      }
      if (!facts[i].pidWithData) allRefusable = false;
      if (facts[i].pidWithData && !facts[i].negative) {
        for (const auto& ack : acks) {
          EXPECT_TRUE(ack.code == "AR" || ack.code == "CR")
              << "a file whose PID carries data must be refused by the PHI gate, got " << ack.code
              << " (ERR-2 '" << ack.errLocation << "', ERR-3 '" << ack.errCode << "')";
        }
      }
    }
    ASSERT_TRUE(engine_->running()) << "labgated died on files " << first + 1 << "-" << last;
    ASSERT_TRUE(health().ok()) << "/health stopped answering after files " << first + 1 << "-"
                               << last;
  }

  // When every file has PID data, nothing of the corpus may reach the LIS.
  if (allRefusable) {
    EXPECT_EQ(lis_->count(), 0u) << "a corpus message reached the LIS";
  }
  // And the engine still accepts a clean message.
  OruSpec clean = cleanOru(newSampleId("CC"));
  sendExpecting(buildOru(clean), clean.controlId, "AA", "clean ORU after the corpus");
  EXPECT_TRUE(waitForSample(clean.sampleId));
  std::cout << "[ corpus   ] /health: accepted "
            << health().connector(kConnector, "messages_accepted") << ", refused "
            << health().connector(kConnector, "messages_refused") << ", refused_phi "
            << health().connector(kConnector, "messages_refused_phi") << ", invalid "
            << health().connector(kConnector, "messages_invalid") << ", failed "
            << health().connector(kConnector, "messages_failed") << "\n";
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

}  // namespace
}  // namespace labgate::it
