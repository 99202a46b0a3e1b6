// Real instrument output from the shared corpus (../shared/corpus/astm, read at run time; the
// tests skip when it is absent) sent to a running labgated. Framed files go over the socket
// byte for byte, one frame at a time; unframed record files are wrapped in E1381 frames by the
// test instrument. The engine must answer every frame, survive, and count every message as
// accepted or refused. The outcome per file is printed (file names and counts only).
#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/Path.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

std::string corpusDir() { return sharedDir() + "/corpus/astm"; }

std::vector<std::string> corpusFiles() {
  std::vector<std::string> files;
  if (!fileExists(corpusDir())) return files;
  for (Poco::DirectoryIterator it(corpusDir()), end; it != end; ++it) {
    if (it->isFile() && Poco::Path(it->path()).getExtension() == "astm")
      files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string baseName(const std::string& path) { return Poco::Path(path).getFileName(); }

bool isFramed(const std::string& bytes) { return bytes.find(astm::kStx) != std::string::npos; }

/// The file cut before each STX: every chunk is one frame plus whatever follows it up to the
/// next STX, so the chunks concatenated are the file exactly.
std::vector<std::string> frameChunks(const std::string& bytes) {
  std::vector<std::string> chunks;
  size_t start = bytes.find(astm::kStx);
  while (start != std::string::npos) {
    size_t next = bytes.find(astm::kStx, start + 1);
    chunks.push_back(
        bytes.substr(start, next == std::string::npos ? std::string::npos : next - start));
    start = next;
  }
  return chunks;
}

/// The record text a framed file carries: frame texts (after FN, before ETX/ETB) concatenated.
std::string framedText(const std::string& bytes) {
  std::string text;
  for (const auto& chunk : frameChunks(bytes)) {
    size_t end = chunk.find_first_of(std::string{astm::kEtx, astm::kEtb});
    if (end == std::string::npos || end < 2) continue;
    text += chunk.substr(2, end - 2);
  }
  return text;
}

/// Records of unframed content, one per line (CR, LF or CRLF), empty lines dropped.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    if (c == '\r' || c == '\n') {
      if (!current.empty()) out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(current);
  return out;
}

/// A record with an optional frame-number digit in front (roche_psm captures keep it).
std::string withoutFnPrefix(const std::string& r) {
  if (r.size() > 2 && std::isdigit(static_cast<unsigned char>(r[0])) &&
      std::isalpha(static_cast<unsigned char>(r[1]))) {
    return r.substr(1);
  }
  return r;
}

std::vector<std::string> split(const std::string& s, char delimiter) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : s) {
    if (c == delimiter) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

/// What the test knows about a file's messages before sending it.
struct CorpusMessages {
  int messages = 0;             // L records
  int withPatientName = 0;      // messages whose P-6 has a letter in it
  std::set<std::string> codes;  // every component of every R-3
};

CorpusMessages inspect(const std::vector<std::string>& records) {
  CorpusMessages info;
  char field = '|', component = '^';
  bool nameInMessage = false;
  for (const auto& raw : records) {
    const std::string r = withoutFnPrefix(raw);
    if (r.empty()) continue;
    if (r[0] == 'H' && r.size() > 4) {
      field = r[1];
      component = r[3];
      nameInMessage = false;
    }
    auto fields = split(r, field);
    if (r[0] == 'P' && fields.size() > 5) {
      nameInMessage = nameInMessage || std::any_of(fields[5].begin(), fields[5].end(), [](char c) {
                        return std::isalpha(static_cast<unsigned char>(c));
                      });
    }
    if (r[0] == 'R' && fields.size() > 2) {
      for (auto c : split(fields[2], component)) {
        c.erase(0, c.find_first_not_of(' '));
        c.erase(c.find_last_not_of(' ') + 1);
        if (!c.empty() && c.find_first_of(",\"") == std::string::npos) info.codes.insert(c);
      }
    }
    if (r[0] == 'L' && r.size() > 1 && r[1] == field) {
      ++info.messages;
      if (nameInMessage) ++info.withPatientName;
    }
  }
  return info;
}

std::vector<std::string> recordsOf(const std::string& bytes) {
  return lines(isFramed(bytes) ? framedText(bytes) : bytes);
}

class CorpusTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (corpusFiles().empty()) GTEST_SKIP() << "corpus not found at " << corpusDir();
    // A mapping of every code the corpus uses, so messages are mapped whichever component of
    // R-3 the connector takes as the instrument code.
    std::set<std::string> codes;
    for (const auto& f : corpusFiles()) {
      auto info = inspect(recordsOf(readFile(f)));
      codes.insert(info.codes.begin(), info.codes.end());
    }
    std::string csv = "instrument_code,lis_code,lis_name,units,decimals\n";
    int n = 0;
    for (const auto& c : codes) {
      ++n;
      csv += c + ",X" + std::to_string(n) + ",Corpus code " + std::to_string(n) + ",,\n";
    }
    writeFile(tmp_->file("corpus-mappings.csv"), csv);
    config_.connectors[0].mappings = tmp_->file("corpus-mappings.csv");
    config_.connectors[0].receiveTimeoutSeconds = 5;
  }

  struct Outcome {
    int frames = 0, acks = 0, naks = 0, unanswered = 0, other = 0;
    long accepted = 0, refused = 0, discarded = 0;
  };

  void tally(Outcome& o, int reply) {
    ++o.frames;
    if (reply == astm::kAck) {
      ++o.acks;
    } else if (reply == astm::kNak) {
      ++o.naks;
    } else if (reply == astm::kTimeout || reply == astm::kClosed) {
      ++o.unanswered;
    } else {
      ++o.other;
    }
  }

  /// Sends one file in one ENQ…EOT session and waits for the counters to settle.
  Outcome sendFile(const std::string& path, const CorpusMessages& info) {
    Outcome o;
    Health before = health();
    const std::string bytes = readFile(path);
    AstmInstrument instrument(astmPort());
    EXPECT_EQ(instrument.enq(), astm::kAck) << baseName(path) << ": ENQ";
    int timeouts = 0;
    if (isFramed(bytes)) {
      for (const auto& chunk : frameChunks(bytes)) {
        if (timeouts >= 1) {  // the engine has stopped answering: send the rest, don't wait
          instrument.sendRaw(chunk);
          ++o.frames;
          ++o.unanswered;
          continue;
        }
        int reply = instrument.sendRawAndRead(chunk, 5000ms);
        if (reply == astm::kTimeout) ++timeouts;
        tally(o, reply);
      }
    } else {
      // A capture of framed records keeps each frame's FN in front of the record (roche_psm):
      // what the instrument sent is the record without it.
      std::vector<std::string> records;
      for (const auto& line : lines(bytes)) records.push_back(withoutFnPrefix(line));
      for (const auto& f : astm::splitIntoFrames(records, astm::Framing::kRecordPerFrame)) {
        int reply = timeouts >= 1 ? astm::kTimeout : instrument.sendFrame(f.text, f.final, 5000ms);
        if (reply == astm::kTimeout) ++timeouts;
        tally(o, reply);
      }
    }
    instrument.eot();
    auto counted = [&] {
      Health h = health();
      o.accepted =
          h.connector("lab1", "messages_accepted") - before.connector("lab1", "messages_accepted");
      o.refused =
          h.connector("lab1", "messages_refused") - before.connector("lab1", "messages_refused");
      o.discarded = h.connector("lab1", "messages_discarded") -
                    before.connector("lab1", "messages_discarded");
      return o.accepted + o.refused >= info.messages;
    };
    // Wait long for a file the engine answered in full, briefly for one it did not.
    waitUntil(counted, o.unanswered == 0 ? 15000ms : 2000ms, 100ms);
    counted();
    return o;
  }

  void runCorpus(bool framed) {
    startLis();
    ASSERT_NO_FATAL_FAILURE(startEngine());
    int files = 0;
    for (const auto& path : corpusFiles()) {
      const std::string bytes = readFile(path);
      if (isFramed(bytes) != framed) continue;
      ++files;
      const std::string name = baseName(path);
      auto info = inspect(recordsOf(bytes));
      Outcome o = sendFile(path, info);
      std::cout << "[ corpus   ] " << name << ": frames " << o.frames << " (ACK " << o.acks
                << ", NAK " << o.naks << ", unanswered " << o.unanswered << ", other " << o.other
                << "); messages " << info.messages << " (with patient name " << info.withPatientName
                << "): accepted " << o.accepted << ", refused " << o.refused << ", discarded "
                << o.discarded << "\n";
      EXPECT_EQ(o.unanswered + o.other, 0) << name << ": frames not answered with ACK/NAK";
      EXPECT_EQ(o.accepted + o.refused, info.messages)
          << name << ": messages not counted as accepted or refused";
      EXPECT_GE(o.refused, info.withPatientName)
          << name << ": a message with a patient name in P-6 was not refused";
      ASSERT_TRUE(engine_->running()) << "labgated died on " << name;
      ASSERT_TRUE(health().ok()) << "/health stopped answering after " << name;
    }
    EXPECT_GT(files, 0);
    // Everything accepted must also leave the engine: no stuck queue.
    ASSERT_TRUE(waitUntil(
        [&] {
          Health h = health();
          return h.destination("lis", "queue_depth") == 0;
        },
        30000ms))
        << "queue_depth stays at " << health().destination("lis", "queue_depth");
    for (const auto& m : lis_->messages()) {
      EXPECT_TRUE(segmentsNamed(m, "PID").empty()) << "an ORU from the corpus carries a PID";
    }
    std::cout << "[ corpus   ] ORUs delivered to the fake LIS: " << lis_->count() << "\n";
    ASSERT_NO_FATAL_FAILURE(stopEngine());
  }
};

TEST_F(CorpusTest, FramedFilesAreAnsweredAndCounted) { runCorpus(true); }

TEST_F(CorpusTest, UnframedRecordFilesWrappedInFramesAreAnsweredAndCounted) { runCorpus(false); }

}  // namespace
}  // namespace labgate::it
