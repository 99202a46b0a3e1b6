// Every ASTM file of the shared corpus (../shared/corpus/astm, skipped when absent) and of the
// project's own tests/data/astm goes through the connector: framed files through the Receiver
// (whole and byte by byte), every message through splitMessages/parseRecords/buildMessage,
// *NOT_ASTM* files refused, fragment_* files parsed behind a synthetic header, transcripts
// translated and replayed. Failures name the file, never a field value.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "astm_test_util.h"
#include "connectors/astm/records.h"
#include "connectors/astm/transcript.h"

namespace labgate::astm {
namespace {

namespace fs = std::filesystem;
using testing::countOf;
using testing::Harness;
using testing::readFile;

std::vector<fs::path> filesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool contains(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

// Records that start with `type` + '|' (at the start of the text or after CR, LF or an FN digit).
size_t countRecords(const std::string& text, char type) {
  size_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != type || text[i + 1] != '|') continue;
    size_t j = i;
    if (j > 0 && text[j - 1] >= '0' && text[j - 1] <= '7') --j;
    if (j == 0 || text[j - 1] == '\r' || text[j - 1] == '\n' || text[j - 1] == kStx) ++n;
  }
  return n;
}

// The whole chain for one message text; returns the number of results.
size_t parseAndBuild(const std::string& text) {
  const AstmOptions options;
  auto document = parseRecords(text, options);
  EXPECT_TRUE(document.isOk()) << document.status().toString();
  if (!document.isOk()) return 0;
  auto message = buildMessage(document.value(), options);
  EXPECT_TRUE(message.isOk()) << message.status().toString();
  return message.isOk() ? message.value().resultCount() : 0;
}

// A refusal must say why in fixed words: no 6-byte run of its text may come from the input.
void expectRefusedWithoutQuoting(const std::string& input) {
  const auto parsed = parseRecords(input, AstmOptions{});
  ASSERT_FALSE(parsed.isOk());
  EXPECT_EQ(parsed.status().location(), "record 1");
  const std::string reason = parsed.status().reason();
  EXPECT_EQ(reason.rfind("not an ASTM message: ", 0), 0u) << reason;
  const std::string tail = reason.substr(std::string("not an ASTM message: ").size());
  for (size_t i = 0; i + 6 <= tail.size(); ++i) {
    EXPECT_FALSE(contains(input, tail.substr(i, 6))) << "reason quotes the input";
  }
}

void checkFramed(const std::string& bytes) {
  const std::string stream = std::string(1, kEnq) + bytes + std::string(1, kEot);
  const size_t frames = countOf(bytes, kStx);
  const size_t expectedMessages = countRecords(bytes, 'L');
  Harness whole;
  Harness bytewise;
  const std::string reply = whole.feed(stream);
  EXPECT_EQ(reply, std::string(frames + 1, kAck)) << whole.receiver.lastProblem();
  EXPECT_EQ(bytewise.feedBytewise(stream), reply);
  EXPECT_EQ(whole.receiver.stats().framesRejected, 0u);
  EXPECT_EQ(whole.receiver.stats().messagesDiscarded, 0u);
  ASSERT_EQ(whole.messages.size(), expectedMessages);
  EXPECT_EQ(bytewise.messages, whole.messages);
  for (const auto& message : whole.messages) {
    const size_t results = parseAndBuild(message);
    if (countRecords(message, 'R') > 0) {
      EXPECT_GT(results, 0u);
    }
    EXPECT_EQ(splitMessages(message, AstmOptions{}).size(), 1u);
  }
}

void checkUnframed(const std::string& text) {
  const auto messages = splitMessages(text, AstmOptions{});
  ASSERT_FALSE(messages.empty());
  for (const auto& message : messages) {
    const size_t results = parseAndBuild(message);
    if (countRecords(message, 'R') > 0) {
      EXPECT_GT(results, 0u);
    }
  }
  // The same records sent on the link without framing (accept_unframed asked for).
  AstmOptions unframed;
  unframed.acceptUnframed = true;
  Harness whole(unframed);
  Harness bytewise(unframed);
  EXPECT_EQ(whole.feed(text), "");
  whole.receiver.connectionClosed();
  bytewise.feedBytewise(text);
  bytewise.receiver.connectionClosed();
  EXPECT_EQ(whole.messages, messages);
  EXPECT_EQ(bytewise.messages, messages);
}

void checkFragment(const std::string& name, const std::string& fragment) {
  const auto parsed = parseRecords("H|\\^&\r" + fragment + "\rL|1|N", AstmOptions{});
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  const Document& doc = parsed.value();
  ASSERT_GT(doc.records.size(), 2u);
  for (size_t i = 1; i + 1 < doc.records.size(); ++i) {
    for (size_t f = 3; f < doc.records[i].fields.size(); ++f) {
      const Field& field = doc.records[i].fields[f];
      if (contains(name, "escape") && contains(field.raw(), "&")) {
        // Every &X& sequence is decoded to its delimiter.
        EXPECT_FALSE(contains(field.text(), "&F&") || contains(field.text(), "&S&") ||
                     contains(field.text(), "&R&") || contains(field.text(), "&E&"));
        EXPECT_LT(field.text().size(), field.raw().size());
      }
      if (contains(name, "repeat") && contains(field.raw(), "\\")) {
        EXPECT_FALSE(contains(field.text(), "\\"));  // repeats become spaces
        EXPECT_TRUE(contains(field.text(), " "));
      }
    }
  }
  if (contains(name, "escape")) {
    std::string decoded;
    for (size_t i = 1; i + 1 < doc.records.size(); ++i) decoded += doc.records[i].fields[5].text();
    for (char delimiter : {'|', '\\', '^', '&'})
      EXPECT_TRUE(contains(decoded, std::string(1, delimiter)));
  }
}

// Runs every check on the files of one folder; returns how many files were checked.
size_t checkFolder(const fs::path& dir) {
  size_t checked = 0;
  for (const auto& path : filesIn(dir)) {
    const std::string name = path.filename().string();
    SCOPED_TRACE(name);
    const std::string bytes = readFile(path);
    EXPECT_FALSE(bytes.empty());
    if (bytes.empty()) continue;
    if (contains(name, "NOT_ASTM")) {
      expectRefusedWithoutQuoting(bytes);
      for (const auto& text : splitMessages(bytes, AstmOptions{}))
        expectRefusedWithoutQuoting(text);
      Harness h;
      h.feed(std::string(1, kEnq) + bytes + std::string(1, kEot));
      h.receiver.connectionClosed();
      EXPECT_TRUE(h.messages.empty());
    } else if (name.rfind("fragment_", 0) == 0) {
      checkFragment(name, bytes);
    } else if (bytes[0] == kStx) {
      checkFramed(bytes);
    } else {
      checkUnframed(bytes);
    }
    ++checked;
  }
  return checked;
}

// Replays each transcript; returns file name -> messages delivered.
std::map<std::string, size_t> replayTranscripts(const fs::path& dir) {
  std::map<std::string, size_t> delivered;
  for (const auto& path : filesIn(dir)) {
    const std::string name = path.filename().string();
    SCOPED_TRACE(name);
    const std::string bytes = translateTranscript(readFile(path));
    Harness whole;
    Harness bytewise;
    const std::string reply = whole.feed(bytes);
    EXPECT_EQ(bytewise.feedBytewise(bytes), reply);
    EXPECT_EQ(whole.receiver.stats().framesRejected, 0u) << whole.receiver.lastProblem();
    EXPECT_EQ(reply, std::string(reply.size(), kAck));
    EXPECT_EQ(whole.messages, bytewise.messages);
    for (const auto& message : whole.messages) parseAndBuild(message);
    delivered[name] = whole.messages.size();
  }
  return delivered;
}

TEST(Corpus, EveryAstmFileGoesThroughTheConnector) {
  const fs::path dir = testing::corpusDir();
  if (!fs::is_directory(dir)) GTEST_SKIP() << "shared corpus not present";
  EXPECT_GE(checkFolder(dir), 24u);
}

TEST(Corpus, BothNotAstmFilesAreRefusedWithAReason) {
  const fs::path dir = testing::corpusDir();
  if (!fs::is_directory(dir)) GTEST_SKIP() << "shared corpus not present";
  size_t refused = 0;
  for (const auto& path : filesIn(dir)) {
    if (!contains(path.filename().string(), "NOT_ASTM")) continue;
    SCOPED_TRACE(path.filename().string());
    expectRefusedWithoutQuoting(readFile(path));
    ++refused;
  }
  EXPECT_EQ(refused, 2u);
}

TEST(Corpus, TranscriptsDeliverTheirMessages) {
  const fs::path dir = testing::corpusDir() / "transcripts";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "shared corpus not present";
  const auto delivered = replayTranscripts(dir);
  EXPECT_EQ(delivered.size(), 3u);
  for (const auto& [name, count] : delivered) {
    SCOPED_TRACE(name);
    EXPECT_EQ(count, 1u);
  }
}

TEST(TestData, EveryOwnAstmFileGoesThroughTheConnector) {
  EXPECT_GE(checkFolder(testing::testDataDir()), 6u);
}

TEST(TestData, OwnTranscriptDeliversItsMessage) {
  const auto delivered = replayTranscripts(testing::testDataDir() / "transcripts");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered.begin()->second, 1u);
}

TEST(Transcript, TranslationRules) {
  const std::string log = "[ENQ]\r\n - [ACK]\r\n[STX]1H|x[C\r\nR][ETX]\n - - [ACK] - -\n[EOT][XYZ]";
  EXPECT_EQ(translateTranscript(log),
            "\x05\x02"
            "1H|x\r\x03\x04[XYZ]");
}

}  // namespace
}  // namespace labgate::astm
