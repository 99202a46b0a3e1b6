// Tests of connectors/hl7/parser.h: options, batch splitting, the MSH header, segments and fields
// into a Document, field text decoding, character sets and the errors' locations. Inputs are
// synthetic (invented values) and inline, or from tests/data/hl7.
#include "connectors/hl7/parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace labgate::hl7 {
namespace {

std::string readData(const std::string& name) {
  std::ifstream in(std::string(LABGATE_TEST_DATA_DIR) + "/hl7/" + name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const std::string kMsh =
    "MSH|^~\\&|Analyzer^A1|Lab^L1|LabGate|Lab|20240101120000||ORU^R01^ORU_R01|CTRL-1|P^T|2.5.1|||"
    "AL|NE||UNICODE UTF-8";

StatusOr<Document> parse(const std::string& text) { return parseHl7(text, Hl7Options{}); }

TEST(Hl7Options, SetsEachKey) {
  Hl7Options options;
  EXPECT_TRUE(setHl7Option(options, "sample_id_field", "spm-2").isOk());
  EXPECT_EQ(options.sampleIdField, "SPM-2");
  EXPECT_TRUE(setHl7Option(options, "max_message_bytes", "2048").isOk());
  EXPECT_EQ(options.maxMessageBytes, 2048u);
  EXPECT_TRUE(setHl7Option(options, "default_charset", "UNICODE UTF-8").isOk());
  EXPECT_EQ(options.defaultCharset, "UNICODE UTF-8");
  EXPECT_EQ(hl7OptionKeys(),
            (std::vector<std::string>{"sample_id_field", "max_message_bytes", "default_charset"}));
}

TEST(Hl7Options, RefusesBadValuesNamingTheKey) {
  Hl7Options options;
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"sample_id_field", "PID-3"},
                                                        {"max_message_bytes", "0"},
                                                        {"max_message_bytes", "12kb"},
                                                        {"max_message_bytes", "-5"},
                                                        {"default_charset", "EBCDIC"},
                                                        {"no_such_key", "1"}}) {
    Status status = setHl7Option(options, key, value);
    EXPECT_EQ(status.code(), Status::Code::kConfig) << key;
    EXPECT_EQ(status.location(), key);
  }
  EXPECT_EQ(options.sampleIdField, "OBR-3");
  EXPECT_EQ(options.maxMessageBytes, 1024u * 1024u);
}

TEST(SplitBatch, RemovesEnvelopeAndSplitsAtMshSegmentsOnly) {
  std::vector<std::string> messages = splitBatch(readData("batch_two_oru_LF.hl7"));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].rfind("MSH|", 0), 0u);
  EXPECT_NE(messages[0].find("MSH is data here"), std::string::npos);
  EXPECT_EQ(messages[0].find('\n'), std::string::npos);
  EXPECT_EQ(messages[1].find("BTS"), std::string::npos);
  EXPECT_EQ(messages[1].find("FTS"), std::string::npos);
  EXPECT_EQ(messages[1].back(), '\r');
}

TEST(SplitBatch, HandlesBomLineEndsBlankLinesAndStrayText) {
  std::string text =
      std::string("\xEF\xBB\xBF") + kMsh + "\r\nOBR|1\r\n\r\n\x1C\r\nnot hl7\nMSH|^~\\&|B\rPID|1";
  std::vector<std::string> messages = splitBatch(text);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], kMsh + "\rOBR|1\rnot hl7\r");
  EXPECT_EQ(messages[1], "MSH|^~\\&|B\rPID|1\r");
  std::vector<std::string> stray = splitBatch("junk before\nMSH|^~\\&|A\n");
  ASSERT_EQ(stray.size(), 2u);
  EXPECT_EQ(stray[0], "junk before\r");
  EXPECT_TRUE(splitBatch("").empty());
  EXPECT_TRUE(splitBatch("\r\n\r\n").empty());
}

TEST(ParseHeader, ReadsWhatAnAckNeeds) {
  StatusOr<MessageHeader> header = parseHeader(kMsh + "\rPID|1\r");
  ASSERT_TRUE(header.isOk()) << header.status().toString();
  EXPECT_EQ(header->sendingApplication, "Analyzer");
  EXPECT_EQ(header->sendingFacility, "Lab");
  EXPECT_EQ(header->receivingApplication, "LabGate");
  EXPECT_EQ(header->receivingFacility, "Lab");
  EXPECT_EQ(header->messageCode, "ORU");
  EXPECT_EQ(header->triggerEvent, "R01");
  EXPECT_EQ(header->messageStructure, "ORU_R01");
  EXPECT_EQ(header->controlId, "CTRL-1");
  EXPECT_EQ(header->processingId, "P");
  EXPECT_EQ(header->version, "2.5.1");
  EXPECT_EQ(header->acceptAckType, "AL");
  EXPECT_EQ(header->applicationAckType, "NE");
  EXPECT_EQ(header->charset, "UNICODE UTF-8");
  EXPECT_EQ(header->delimiters.escape, '\\');
}

TEST(ParseHeader, ReadsHeaderOfMessagesTheParserRefuses) {
  // A bad segment later on, an unknown character set: the ACK can still be addressed.
  StatusOr<MessageHeader> header =
      parseHeader("MSH|^~\\&|A|B|C|D|20240101||ORU^R01|X-9|P|2.5.1||||||EBCDIC\rbad segment\r");
  ASSERT_TRUE(header.isOk());
  EXPECT_EQ(header->controlId, "X-9");
  EXPECT_EQ(header->charset, "EBCDIC");
}

TEST(ParseHeader, LocatesUnusableHeaders) {
  struct Case {
    std::string text;
    std::string location;
  };
  for (const Case& c : std::vector<Case>{
           {"PID|1\rMSH|^~\\&|A", "segment 1"},
           {"", "segment 1"},
           {"MSH", "MSH-1"},
           {"MSHA^~\\&|", "MSH-1"},
           {"MSH|^~\\\\&|A||||||ORU^R01|1", "MSH-2"},
           {"MSH|^~\\|A||||||ORU^R01|1", "MSH-2"},
           {"MSH|^^\\&|A||||||ORU^R01|1", "MSH-2"},
           {"MSH|^|\\&|A||||||ORU^R01|1", "MSH-2"},
           {"MSH|^~\\&|A||||||^R01|1", "MSH-9"},
           {"MSH|^~\\&|A||||||ORU^R01||P", "MSH-10"},
       }) {
    StatusOr<MessageHeader> header = parseHeader(c.text);
    ASSERT_FALSE(header.isOk()) << c.location;
    EXPECT_EQ(header.status().code(), Status::Code::kInvalid);
    EXPECT_EQ(header.status().location(), c.location);
    StatusOr<Document> document = parse(c.text);
    ASSERT_FALSE(document.isOk());
    EXPECT_EQ(document.status().location(), c.location);
  }
}

TEST(ParseHeader, AcceptsTheV27TruncationCharacter) {
  StatusOr<MessageHeader> header = parseHeader("MSH|^~\\&#|A||||||ORU^R01|1|P|2.7");
  ASSERT_TRUE(header.isOk()) << header.status().toString();
  EXPECT_EQ(header->delimiters.subcomponent, '&');
}

TEST(ParseHl7, LaysOutMshAndOtherSegments) {
  StatusOr<Document> document = parse(kMsh + "\rPID|1||\rZLG|a^b\rOBX\r");
  ASSERT_TRUE(document.isOk()) << document.status().toString();
  EXPECT_EQ(document->format, SourceFormat::kHl7);
  ASSERT_EQ(document->records.size(), 4u);
  const Record& msh = document->records[0];
  EXPECT_EQ(msh.type, "MSH");
  EXPECT_EQ(msh.fields[0].raw(), "MSH");
  EXPECT_EQ(msh.fields[1].raw(), "|");
  EXPECT_EQ(msh.fields[2].raw(), "^~\\&");
  EXPECT_EQ(msh.fields[2].text(), "^~\\&");
  EXPECT_EQ(msh.fields[3].raw(), "Analyzer^A1");
  EXPECT_EQ(msh.fields[3].text(), "Analyzer A1");
  EXPECT_EQ(msh.fields[10].raw(), "CTRL-1");
  EXPECT_EQ(msh.location(10), "MSH-10");
  EXPECT_EQ(msh.fields.size(), 19u);
  const Record& pid = document->records[1];
  EXPECT_EQ(pid.ordinal, 1);
  ASSERT_EQ(pid.fields.size(), 4u);  // PID, PID-1, and two empty fields kept
  EXPECT_EQ(pid.fields[1].raw(), "1");
  EXPECT_EQ(document->records[2].type, "ZLG");
  EXPECT_EQ(document->records[2].fields[1].text(), "a b");
  EXPECT_EQ(document->records[3].fields.size(), 1u);
}

TEST(ParseHl7, DecodesFieldTextForScreening) {
  const Hl7Delimiters d;
  EXPECT_EQ(decodeFieldText("DOE^JOHN^^^^", d), "DOE JOHN");
  EXPECT_EQ(decodeFieldText("a~b&c^ d ", d), "a b c d");
  EXPECT_EQ(decodeFieldText("A\\T\\E \\F\\ \\S\\ \\R\\ \\E\\", d), "A&E | ^ ~ \\");
  EXPECT_EQ(decodeFieldText("line\\.br\\next", d), "line\nnext");
  EXPECT_EQ(decodeFieldText("\\H\\Bold\\N\\ text", d), "Bold text");
  EXPECT_EQ(decodeFieldText("a\\X41424344\\b", d), "aABCDb");
  EXPECT_EQ(decodeFieldText("a\\.sp 2\\b\\.in+4\\c\\.ce\\d", d), "a\nb c\nd");
  EXPECT_EQ(decodeFieldText("\\C2842\\x\\M2442\\y", d), "xy");
  EXPECT_EQ(decodeFieldText("keep \\Zlocal\\ as sent", d), "keep \\Zlocal\\ as sent");
  EXPECT_EQ(decodeFieldText("lone \\ escape^x", d), "lone \\ escape x");
  EXPECT_EQ(decodeFieldText("\\Xe9\\", d), "\xC3\xA9");  // not UTF-8: read as Latin-1
  EXPECT_EQ(decodeFieldText("", d), "");
}

TEST(ParseHl7, UsesTheMessagesOwnDelimiters) {
  StatusOr<Document> document = parse(readData("custom_delimiters_CRLF.hl7"));
  ASSERT_TRUE(document.isOk()) << document.status().toString();
  const Record& obx = document->records[2];
  EXPECT_EQ(obx.type, "OBX");
  EXPECT_EQ(obx.fields[3].text(), "NOTE Note L");
  EXPECT_EQ(obx.fields[5].text(), "a # b $ c @ d ~ e ! f");
  EXPECT_EQ(document->records[3].fields[8].text(), "N A");
  EXPECT_EQ(documentDelimiters(document.value()).escape, '!');
}

TEST(ParseHl7, ConvertsLatin1ToUtf8) {
  StatusOr<Document> document = parse(readData("oul_r22_specimen_latin1_LF.hl7"));
  ASSERT_TRUE(document.isOk()) << document.status().toString();
  EXPECT_EQ(document->records.back().fields[6].raw(), "\xC2\xB5g/L");
  // An empty MSH-18 uses the configured default.
  std::string latin = "MSH|^~\\&|A||||||ORU^R01|1|P|2.5.1\rNTE|1||caf\xE9";
  StatusOr<Document> byDefault = parse(latin);
  ASSERT_TRUE(byDefault.isOk());
  EXPECT_EQ(byDefault->records[1].fields[3].text(), "caf\xC3\xA9");
  Hl7Options utf8;
  utf8.defaultCharset = "UTF-8";
  StatusOr<Document> refused = parseHl7(latin, utf8);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().location(), "NTE-3");
}

TEST(ParseHl7, ChecksUtf8AndKnowsTheCharsetNames) {
  for (const char* name : {"UNICODE UTF-8", "UNICODE", "UTF-8", "ASCII", "unicode utf-8"}) {
    std::string text = std::string("MSH|^~\\&|A||||||ORU^R01|1|P|2.5.1||||||").append(name) +
                       "\rOBX|1|ST|X||gr\xC3\xBC\xC3\x9F";
    StatusOr<Document> document = parse(text);
    ASSERT_TRUE(document.isOk()) << name;
    EXPECT_EQ(document->records[1].fields[5].text(), "gr\xC3\xBC\xC3\x9F");
    StatusOr<Document> broken = parse(text + "\xFF");
    ASSERT_FALSE(broken.isOk());
    EXPECT_EQ(broken.status().location(), "OBX-5");
    EXPECT_EQ(broken.status().reason().find('\xFF'), std::string::npos);
  }
  StatusOr<Document> unknown = parse("MSH|^~\\&|A||||||ORU^R01|1|P|2.5.1||||||8859/15");
  ASSERT_FALSE(unknown.isOk());
  EXPECT_EQ(unknown.status().location(), "MSH-18");
}

TEST(ParseHl7, LocatesStructuralErrors) {
  StatusOr<Document> badId = parse(kMsh + "\rPID|1\rOBX|1\rob|x\r");
  ASSERT_FALSE(badId.isOk());
  EXPECT_EQ(badId.status().location(), "segment 4");
  StatusOr<Document> longId = parse(kMsh + "\rOBXX|1\r");
  ASSERT_FALSE(longId.isOk());
  EXPECT_EQ(longId.status().location(), "segment 2");
  StatusOr<Document> twoMessages = parse(kMsh + "\rPID|1\r" + kMsh + "\r");
  ASSERT_FALSE(twoMessages.isOk());
  EXPECT_EQ(twoMessages.status().location(), "segment 3");
  Hl7Options small;
  small.maxMessageBytes = 16;
  StatusOr<Document> tooLarge = parseHl7(kMsh, small);
  ASSERT_FALSE(tooLarge.isOk());
  EXPECT_EQ(tooLarge.status().code(), Status::Code::kTooLarge);
}

TEST(ParseHl7, AcceptsLineEndsBomAndMissingFinalCr) {
  StatusOr<Document> cr = parse(kMsh + "\rPID|1\r");
  StatusOr<Document> lf = parse(std::string("\xEF\xBB\xBF") + kMsh + "\nPID|1");
  StatusOr<Document> crlf = parse(kMsh + "\r\nPID|1\r\n\r\n");
  ASSERT_TRUE(cr.isOk() && lf.isOk() && crlf.isOk());
  EXPECT_EQ(serialise(cr.value()), serialise(lf.value()));
  EXPECT_EQ(serialise(cr.value()), serialise(crlf.value()));
  EXPECT_EQ(serialise(cr.value()), kMsh + "\rPID|1\r");
}

TEST(Serialise, WritesLatin1BackForLatin1Messages) {
  std::string latin = "MSH|^~\\&|A||||||ORU^R01|1|P|2.5.1||||||8859/1\rNTE|1||\xB5g\r";
  StatusOr<Document> document = parse(latin);
  ASSERT_TRUE(document.isOk());
  EXPECT_EQ(serialise(document.value()), latin);
}

TEST(Utf8, ValidatesSequences) {
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("\xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(isValidUtf8("\xF5\x80\x80\x80"));  // beyond U+10FFFF
}

// Zero-copy parsing (ADR 0016): fields are views into the Document's copy of the message, decoded
// when read; a copy of the Document keeps that text alive, and the PHI gate's strip and a
// builder's setRaw/setText turn a view into an owned field.
TEST(ParseHl7, FieldsAreViewsDecodedWhenRead) {
  Document copy;
  {
    std::string text =
        "MSH|^~\\&|Lab|Fac|||20240101||ORU^R01|C1|P|2.5.1\r"
        "OBX|1|CE|GLU^Glucose\\T\\more^L|| 5.5 |mmol/L\r";
    StatusOr<Document> parsed = parseHl7(text, Hl7Options{});
    ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
    copy = parsed.value();
    text.assign(text.size(), 'x');  // the Document does not point into the caller's buffer
  }                                 // the parsed Document is gone; `copy` shares its text
  ASSERT_EQ(copy.records.size(), 2u);
  Record& obx = copy.records[1];
  ASSERT_TRUE(obx.source != nullptr);
  EXPECT_TRUE(obx.fields[3].isView());
  EXPECT_EQ(obx.fields[3].raw(), "GLU^Glucose\\T\\more^L");
  EXPECT_EQ(obx.fields[3].text(), "GLU Glucose&more L");
  EXPECT_EQ(obx.fields[3].text(), decodeFieldText(obx.fields[3].raw(), Hl7Delimiters{}));
  EXPECT_EQ(obx.fields[5].raw(), " 5.5 ");
  EXPECT_EQ(obx.fields[5].text(), "5.5");
  EXPECT_EQ(copy.records[0].fields[2].text(), "^~\\&");  // MSH-2 as sent

  obx.fields[6].setText("changed");  // raw() stays, the field owns its strings now
  EXPECT_FALSE(obx.fields[6].isView());
  EXPECT_EQ(obx.fields[6].raw(), "mmol/L");
  EXPECT_EQ(obx.fields[6].text(), "changed");

  obx.fields[3].strip();
  EXPECT_TRUE(obx.fields[3].stripped());
  EXPECT_TRUE(obx.fields[3].raw().empty());
  EXPECT_TRUE(obx.fields[3].text().empty());
  EXPECT_EQ(serialise(copy), std::string("MSH|^~\\&|Lab|Fac|||20240101||ORU^R01|C1|P|2.5.1\r"
                                         "OBX|1|CE||| 5.5 |mmol/L\r"));

  Record alone = obx;  // a copied Record keeps the text alive on its own
  copy = Document{};
  EXPECT_EQ(alone.fields[5].text(), "5.5");
  EXPECT_EQ(alone.raw(1), "1");
}

}  // namespace
}  // namespace labgate::hl7
