// Tests of the E1394 record parser and the Message builder (connectors/astm/records.h). All
// messages here are invented.
#include "connectors/astm/records.h"

#include <gtest/gtest.h>

#include "astm_test_util.h"

namespace labgate::astm {
namespace {

Document parseOk(const std::string& text, const AstmOptions& options = {}) {
  auto parsed = parseRecords(text, options);
  EXPECT_TRUE(parsed.isOk()) << parsed.status().toString();
  return parsed.isOk() ? parsed.value() : Document{};
}

Message buildOk(const std::string& text, const AstmOptions& options = {}) {
  auto built = buildMessage(parseOk(text, options), options);
  EXPECT_TRUE(built.isOk()) << built.status().toString();
  return built.isOk() ? built.value() : Message{};
}

TEST(ParseRecords, FieldNumberingFollowsE1394) {
  const Document doc = parseOk(testing::syntheticMessage());
  ASSERT_EQ(doc.records.size(), 6u);
  EXPECT_EQ(doc.format, SourceFormat::kAstm);
  const Record& h = doc.records[0];
  EXPECT_EQ(h.type, "H");
  EXPECT_EQ(h.fields[0].raw(), "H");
  EXPECT_EQ(h.fields[1].raw(), "H");
  EXPECT_EQ(h.fields[2].raw(), "\\^&");
  EXPECT_EQ(h.fields[2].text(), "\\^&");  // the definition is not decoded
  EXPECT_EQ(h.fields[5].raw(), "SynthAnalyzer^1.0");
  EXPECT_EQ(h.fields[5].text(), "SynthAnalyzer 1.0");
  EXPECT_EQ(h.raw(14), "20240101120000");
  const Record& r = doc.records[3];
  EXPECT_EQ(r.type, "R");
  EXPECT_EQ(r.ordinal, 3);
  EXPECT_EQ(r.raw(3), "^^^GLU");
  EXPECT_EQ(r.fields[3].text(), "GLU");
  EXPECT_EQ(r.raw(4), "5.5");
  EXPECT_EQ(r.location(4), "R-4");
  EXPECT_EQ(doc.records[5].type, "L");
}

TEST(ParseRecords, DefaultDelimiters) {
  const Document doc = parseOk("H|\\^&\rO|1|A^B\\C^D\rL|1|N");
  EXPECT_EQ(doc.records[1].fields[3].text(), "A B C D");
}

TEST(ParseRecords, CustomDelimitersFromHeader) {
  // Field |, repeat @, component ^, escape backslash.
  const Document doc = parseOk("H|@^\\|CTRL\rO|1|S1@S2||^^^T1@^^^T2\rR|1|^A^^B|x\\S\\y\rL|1|N");
  EXPECT_EQ(doc.records[0].fields[2].raw(), "@^\\");
  EXPECT_EQ(doc.records[1].fields[3].text(), "S1 S2");
  EXPECT_EQ(doc.records[1].fields[5].text(), "T1 T2");
  EXPECT_EQ(doc.records[2].fields[4].text(), "x^y");
  const auto d = delimitersFromDefinition("@^\\");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->repeat, '@');
  EXPECT_EQ(d->component, '^');
  EXPECT_EQ(d->escape, '\\');
}

TEST(ParseRecords, DoubledBackslashDefinitionTolerated) {
  const Document doc = parseOk("H|\\\\^&|||Synth\rO|1|A\\B^C\rL|1|N");
  EXPECT_EQ(doc.records[1].fields[3].text(), "A B C");
  const auto d = delimitersFromDefinition("\\\\^&");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->repeat, '\\');
  EXPECT_EQ(d->component, '^');
  EXPECT_EQ(d->escape, '&');
}

TEST(ParseRecords, ClashingDelimitersRefused) {
  const auto parsed = parseRecords("H|^^&\rL|1|N", {});
  ASSERT_FALSE(parsed.isOk());
  EXPECT_EQ(parsed.status().location(), "H-2");
}

TEST(ParseRecords, EscapeSequencesDecoded) {
  const Document doc =
      parseOk("H|\\^&\rC|1|I|a&F&b&S&c&R&d&E&e|G\rC|2|I|R&D 50&|G\rC|3|I|&X41&&.br&|G\rL|1|N");
  EXPECT_EQ(doc.records[1].fields[4].text(), "a|b^c\\d&e");
  EXPECT_EQ(doc.records[1].fields[4].raw(), "a&F&b&S&c&R&d&E&e");
  EXPECT_EQ(doc.records[2].fields[4].text(), "R&D 50&");  // not escapes: kept as sent
  EXPECT_EQ(doc.records[3].fields[4].text(), "A&.br&");   // hex decoded, unknown kept
}

TEST(ParseRecords, RepeatsComponentsAndTrimming) {
  const Document doc = parseOk("H|\\^&\rO|1|  ID7 ^^ ^x|| ^^^A\\^^^B |R\rL|1|N");
  EXPECT_EQ(doc.records[1].fields[3].text(), "ID7 x");
  EXPECT_EQ(doc.records[1].fields[5].text(), "A B");
  EXPECT_EQ(fieldComponents(" ^^^A\\^^^B ", Delimiters{}),
            (std::vector<std::string>{"", "", "", "A"}));
}

TEST(ParseRecords, LineEndingsCommentsAndFramePrefixes) {
  const std::string text = "# exported by a test\n\n1H|\\^&\r\n2P|1\n3O|1|S1\r4L|1|N\n";
  const Document doc = parseOk(text);
  ASSERT_EQ(doc.records.size(), 4u);
  EXPECT_EQ(doc.records[1].type, "P");
  EXPECT_EQ(doc.records[2].raw(3), "S1");
}

TEST(ParseRecords, UnknownRecordTypesKept) {
  const Document doc = parseOk("H|\\^&\rS|1|x\r#junk|y\rL|1|N");
  EXPECT_EQ(doc.records[1].type, "S");
  EXPECT_EQ(doc.records[2].type, "?");
}

TEST(ParseRecords, NotAstmRefusedWithoutQuotingInput) {
  const std::string secret = "SECRETVALUE";
  const std::vector<std::string> inputs = {
      "\x02"
      "01/01/24 " +
          secret + " 5.5 mmol/L\x03",
      "O|1|" + secret + "\rL|1|N",
      secret + "|x",
      "",
      "# only a comment\n",
  };
  for (const auto& input : inputs) {
    const auto parsed = parseRecords(input, {});
    ASSERT_FALSE(parsed.isOk());
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalid);
    EXPECT_EQ(parsed.status().location(), "record 1");
    EXPECT_EQ(parsed.status().reason().rfind("not an ASTM message: ", 0), 0u);
    EXPECT_EQ(parsed.status().toString().find(secret), std::string::npos);
  }
}

TEST(SplitMessages, SeparatesMessagesAndKeepsStrayLines) {
  AstmOptions options;
  const std::string text =
      "# comment\r\n\r\nH|\\^&\r\nP|1\r\nL|1|N\r\nH|\\^&\nL|1|N\nstray line\n1H|\\^&\n2L|1|N";
  const auto messages = splitMessages(text, options);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0], "H|\\^&\rP|1\rL|1|N");
  EXPECT_EQ(messages[1], "H|\\^&\rL|1|N");
  EXPECT_EQ(messages[2], "stray line");
  EXPECT_EQ(messages[3], "H|\\^&\rL|1|N");
}

TEST(SplitMessages, UnterminatedMessageFollowsOption) {
  AstmOptions options;
  EXPECT_TRUE(splitMessages("H|\\^&\rP|1", options).empty());
  options.deliverWithoutTerminator = true;
  EXPECT_EQ(splitMessages("H|\\^&\rP|1", options), std::vector<std::string>{"H|\\^&\rP|1"});
}

TEST(BuildMessage, HeaderSamplesAndResults) {
  const Message m = buildOk(testing::syntheticMessage());
  EXPECT_EQ(m.sender, "SynthAnalyzer");
  EXPECT_EQ(m.processingId, "P");
  EXPECT_EQ(m.version, "LIS2-A2");
  EXPECT_EQ(m.sentAt, "20240101120000");
  ASSERT_EQ(m.samples.size(), 1u);
  const Sample& s = m.samples[0];
  EXPECT_EQ(s.sampleId, "SMP-0001");
  EXPECT_EQ(s.kind, SampleKind::kUnknown);
  EXPECT_EQ(s.acquiredAt, "20240101115500");
  ASSERT_EQ(s.results.size(), 2u);
  const Result& r = s.results[0];
  EXPECT_EQ(r.instrumentCode, "GLU");
  EXPECT_EQ(r.value, "5.5");
  ASSERT_TRUE(r.numeric.has_value());
  EXPECT_DOUBLE_EQ(*r.numeric, 5.5);
  EXPECT_EQ(r.units, "mmol/L");
  EXPECT_EQ(r.referenceRange, "3.9-6.1");
  EXPECT_EQ(r.flags, "N");
  EXPECT_EQ(r.status, "F");
  EXPECT_EQ(r.measuredAt, "20240101115900");
  EXPECT_EQ(r.location, "R-4");
  EXPECT_EQ(m.resultCount(), 2u);
}

TEST(BuildMessage, ControlIdAndQcActionCode) {
  const Message m = buildOk("H|\\^&|MSG42||Synth|||||||Q|LIS2-A2\rO|1|QC1||^^^A|R||||||Q\rL|1|N");
  EXPECT_EQ(m.controlId, "MSG42");
  ASSERT_EQ(m.samples.size(), 1u);
  EXPECT_EQ(m.samples[0].kind, SampleKind::kQc);
  AstmOptions options;
  options.qcFromProcessingId = false;
  const Message p = buildOk("H|\\^&|||Synth|||||||Q\rO|1|QC1||^^^A|R\rL|1|N", options);
  EXPECT_EQ(p.samples[0].kind, SampleKind::kUnknown);
  const Message q = buildOk("H|\\^&|||Synth|||||||Q\rO|1|QC1||^^^A|R\rL|1|N");
  EXPECT_EQ(q.samples[0].kind, SampleKind::kQc);
}

TEST(BuildMessage, DecimalCommaCensoredAndPaddedValues) {
  const std::string text =
      "H|\\^&\rO|1|S1\rR|1|^^^A|7,41|Ratio\rR|2|^^^B|>8|Ratio\rR|3|^^^C|  5.5|x\r"
      "R|4|^^^D|-----|x\rR|5|^^^E|<0.5\rR|6|^^^F|-1.5e2\rR|7|^^^G|1,234.5\rL|1|N";
  const Message m = buildOk(text);
  const auto& r = m.samples.at(0).results;
  ASSERT_EQ(r.size(), 7u);
  EXPECT_DOUBLE_EQ(r[0].numeric.value(), 7.41);
  EXPECT_EQ(r[0].value, "7,41");
  EXPECT_FALSE(r[1].numeric.has_value());
  EXPECT_EQ(r[1].value, ">8");
  EXPECT_EQ(r[2].value, "5.5");
  EXPECT_DOUBLE_EQ(r[2].numeric.value(), 5.5);
  EXPECT_FALSE(r[3].numeric.has_value());
  EXPECT_FALSE(r[4].numeric.has_value());
  EXPECT_DOUBLE_EQ(r[5].numeric.value(), -150.0);
  EXPECT_FALSE(r[6].numeric.has_value());
  AstmOptions noComma;
  noComma.decimalComma = false;
  EXPECT_FALSE(buildOk(text, noComma).samples[0].results[0].numeric.has_value());
}

TEST(BuildMessage, TestCodeComponentRules) {
  const Message m = buildOk(
      "H|\\^&\rO|1|S1\rR|1|^^^GLU^x|1\rR|2|^^^^WBC^1|2\rR|3|CREA^Creatinine^^F|3\rR|4|NA|4\r"
      "R|5|^MTB^^Xp^^^rpo^Ct|^0.0\rL|1|N");
  const auto& r = m.samples[0].results;
  EXPECT_EQ(r[0].instrumentCode, "GLU");
  EXPECT_EQ(r[1].instrumentCode, "WBC");
  EXPECT_EQ(r[2].instrumentCode, "CREA");
  EXPECT_EQ(r[3].instrumentCode, "NA");
  EXPECT_EQ(r[4].instrumentCode, "MTB");
  EXPECT_EQ(r[4].value, "0.0");  // empty first component: the first non-empty one
  AstmOptions options;
  options.testCodeComponent = 5;
  EXPECT_EQ(buildOk("H|\\^&\rR|1|^^^A^B|1\rL|1|N", options).samples[0].results[0].instrumentCode,
            "B");
}

TEST(BuildMessage, CompositeTestCodesFromSeveralComponents) {
  // GeneXpert's shape (custom delimiters H|@^\\): the assay in component 2, the analyte in 7-8.
  const std::string text =
      "H|@^\\|||Xpert|||||||P|1394-97\r"
      "O|1|S1||^^^MTB-RIF|R\r"
      "R|1|^MTB-RIF^^Xpert^Xpert MTB-RIF Ultra^4^MTB^|NOT DETECTED^|||||F\r"
      "R|2|^MTB-RIF^^Xpert^^^rpoB1^Ct|^0.0\r"
      "R|3|^MTB-RIF^^Xpert^^^rpoB1^EndPt|^-2.0\r"
      "R|4|^MTB-RIF^^RIF^^^rpoB1^Ct|^0.0\r"
      "R|5|^MTB-RIF^^Xpert^^^^|FAIL^\r"
      "R|6|||\r"
      "L|1|N";
  // Today (the automatic rule): every result the same code.
  const auto automatic = buildOk(text).samples[0].results;
  ASSERT_EQ(automatic.size(), 6u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(automatic[i].instrumentCode, "MTB-RIF") << i;
  AstmOptions options;
  options.testCodeComponents = {2, 4, 7, 8};
  const Message composite = buildOk(text, options);
  const auto& r = composite.samples[0].results;
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].instrumentCode, "MTB-RIF/Xpert/MTB");
  EXPECT_EQ(r[1].instrumentCode, "MTB-RIF/Xpert/rpoB1/Ct");
  EXPECT_EQ(r[2].instrumentCode, "MTB-RIF/Xpert/rpoB1/EndPt");
  EXPECT_EQ(r[3].instrumentCode, "MTB-RIF/RIF/rpoB1/Ct");
  EXPECT_EQ(r[4].instrumentCode, "MTB-RIF/Xpert");  // empty components are left out
  EXPECT_EQ(r[5].instrumentCode, "");               // nothing anywhere: nothing invented
  options.testCodeSeparator = "^";
  options.testCodeComponents = {7, 2};
  EXPECT_EQ(buildOk(text, options).samples[0].results[1].instrumentCode, "rpoB1^MTB-RIF");
  // Every listed component empty: the automatic rule.
  options.testCodeComponents = {9};
  EXPECT_EQ(buildOk(text, options).samples[0].results[1].instrumentCode, "MTB-RIF");
}

TEST(BuildMessage, CommentsAttachToPrecedingResult) {
  const Message m = buildOk(
      "H|\\^&\rO|1|S1\rC|1|I|order note|G\rR|1|^^^A|1\rC|1|I|first^part|G\rC|2|I|second|G\r"
      "M|1|x\rC|1|I|manufacturer note|G\rR|2|^^^B|2\rL|1|N");
  const auto& r = m.samples[0].results;
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].comment, "first part; second");
  EXPECT_EQ(r[1].comment, "");
}

TEST(BuildMessage, MultiplePatientsAndOrders) {
  const Message m = buildOk(
      "H|\\^&\rP|1\rO|1|S1\rR|1|^^^A|1\rO|2|S2\rR|1|^^^A|2\rR|2|^^^B|3\rP|2\rR|1|^^^C|4\r"
      "O|1||R7^P3\rR|1|^^^D|5\rL|1|N");
  ASSERT_EQ(m.samples.size(), 4u);
  EXPECT_EQ(m.samples[0].sampleId, "S1");
  EXPECT_EQ(m.samples[1].sampleId, "S2");
  EXPECT_EQ(m.samples[1].results.size(), 2u);
  EXPECT_EQ(m.samples[2].sampleId, "");  // an R after P without an O
  EXPECT_EQ(m.samples[2].results.at(0).instrumentCode, "C");
  EXPECT_EQ(m.samples[3].sampleId, "R7");  // O-3 empty: O-4
  EXPECT_EQ(m.samples[3].position, "R7 P3");
  EXPECT_EQ(m.resultCount(), 5u);
}

TEST(BuildMessage, StrippedFieldsReadAsEmpty) {
  Document doc = parseOk("H|\\^&\rO|1|S1\rR|1|^^^A|9.9|U\rL|1|N");
  doc.records[2].fields[4] = Field{"", "", true};
  doc.records[1].fields[3] = Field{"", "", true};
  const auto built = buildMessage(doc, {});
  ASSERT_TRUE(built.isOk());
  EXPECT_EQ(built.value().samples[0].sampleId, "");
  EXPECT_EQ(built.value().samples[0].results[0].value, "");
  EXPECT_FALSE(built.value().samples[0].results[0].numeric.has_value());
}

TEST(BuildMessage, PatientRecordNeverCopied) {
  const Message m = buildOk("H|\\^&\rP|1|PATID77||NAT99|Doe^Jane||19700101|F\rO|1|S1\rL|1|N");
  ASSERT_EQ(m.samples.size(), 1u);
  EXPECT_EQ(m.samples[0].sampleId, "S1");
  EXPECT_EQ(m.controlId.find("PATID77"), std::string::npos);
}

TEST(BuildMessage, RefusesDocumentWithoutHeader) {
  Document doc;
  Record order;
  order.type = "O";
  doc.records.push_back(order);
  const auto built = buildMessage(doc, {});
  ASSERT_FALSE(built.isOk());
  EXPECT_EQ(built.status().location(), "record 1");
}

TEST(ParsePlainNumber, Forms) {
  EXPECT_DOUBLE_EQ(parsePlainNumber("42", false).value(), 42.0);
  EXPECT_DOUBLE_EQ(parsePlainNumber("+0.5", false).value(), 0.5);
  EXPECT_DOUBLE_EQ(parsePlainNumber(".5", false).value(), 0.5);
  EXPECT_FALSE(parsePlainNumber("0,5", false).has_value());
  EXPECT_DOUBLE_EQ(parsePlainNumber("0,5", true).value(), 0.5);
  EXPECT_FALSE(parsePlainNumber("", true).has_value());
  EXPECT_FALSE(parsePlainNumber("-", true).has_value());
  EXPECT_FALSE(parsePlainNumber("1e", true).has_value());
  EXPECT_FALSE(parsePlainNumber("3+", true).has_value());
  EXPECT_FALSE(parsePlainNumber("1.2.3", true).has_value());
}

}  // namespace
}  // namespace labgate::astm
