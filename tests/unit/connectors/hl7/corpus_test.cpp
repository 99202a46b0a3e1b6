// Every HL7 file of the shared corpus (../shared/corpus/hl7, skipped when absent) goes through
// splitBatch, parseHeader, parseHl7 and buildMessage, and must give the outcome in the table below:
// the sample/result counts of the result messages, the status location of the others. Transcripts
// are translated from bracket notation; the 85 KB escaped fragment is parsed inside a synthetic
// message. Failures name the file, never a field value.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "connectors/hl7/builder.h"

namespace labgate::hl7 {
namespace {

namespace fs = std::filesystem;

fs::path corpusDir() { return fs::path(LABGATE_SHARED_DIR) / "corpus" / "hl7"; }

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A transcript in bracket notation ([VT] [CR] [FS] ...) as the bytes that were sent: the
// logger's own line breaks dropped, the notation translated, the MLLP frame content returned.
std::string fromTranscript(const std::string& log) {
  std::string text;
  for (char c : log) {
    if (c != '\r' && c != '\n') text.push_back(c);
  }
  const std::map<std::string, char> names = {
      {"[VT]", '\x0B'}, {"[FS]", '\x1C'}, {"[CR]", '\r'}, {"[LF]", '\n'}};
  std::string bytes;
  for (size_t i = 0; i < text.size();) {
    bool replaced = false;
    for (const auto& [name, byte] : names) {
      if (text.compare(i, name.size(), name) == 0) {
        bytes.push_back(byte);
        i += name.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) bytes.push_back(text[i++]);
  }
  size_t start = bytes.find('\x0B');
  size_t end = bytes.find('\x1C');
  if (start == std::string::npos || end == std::string::npos || end < start) return bytes;
  return bytes.substr(start + 1, end - start - 1);
}

// What one message of a file must give.
struct Outcome {
  size_t samples = 0;
  size_t results = 0;
  std::string location;  // "" = builds; else where the status points
  Status::Code code = Status::Code::kOk;
};

Outcome built(size_t samples, size_t results) { return {samples, results, "", Status::Code::kOk}; }
Outcome rejected() { return {0, 0, "MSH-9", Status::Code::kRejected}; }
Outcome invalid(const std::string& location) { return {0, 0, location, Status::Code::kInvalid}; }

// File -> the outcome of each message in it.
const std::map<std::string, std::vector<Outcome>>& expectations() {
  static const std::map<std::string, std::vector<Outcome>> kTable = {
      {"athena_lri_oru_nte_tq1_LF.hl7", {built(1, 0)}},                 // an order without OBX
      {"batch_fhs_bhs_two_messages_LF.hl7", {rejected(), rejected()}},  // ADT^A01, RSP^K11
      {"cerner_healthsentry_oru_lead_CR.hl7", {built(1, 1)}},
      {"cerner_healthsentry_oru_pertussis_CR.hl7", {built(1, 1)}},
      {"elr_realm_animal_rabies_CR.hl7", {built(1, 1)}},
      {"elr_realm_campylobacter_CR.hl7", {built(1, 1)}},
      {"elr_realm_hepatitis_c_CR.hl7", {built(1, 3)}},
      {"elr_realm_two_orders_joeslab_CR.hl7", {built(2, 2)}},
      {"fhirconv_adt_a01_phi_rich_LF.hl7", {rejected()}},
      // two OBX before the OBR (sample without id), then the order with 3 (1 + 2 under SPM)
      {"fhirconv_elr_oru_251_prt_LF.hl7", {built(2, 5)}},
      {"fhirconv_lab_orm_o01_bom_LF.hl7", {rejected()}},
      {"fhirconv_lab_oru_bom_pending_results_LF.hl7", {built(2, 10)}},
      {"fhirconv_nist_lri_cbc_bom_LF.hl7", {built(1, 28)}},
      // patient OBX (no id), specimen OBX (SPM-2 id), the order's 5 OBX (SPM-2 id)
      {"fhirconv_oul_r22_escape_T_LF.hl7", {built(3, 7)}},
      {"hl7spec_glucose_oru_sn_value_LF.hl7", {built(1, 1)}},
      // valid HL7 syntax; an SIU^S12 scheduling message is not a result message
      {"invalid_siu_bad_phone_LF.hl7", {rejected()}},
      // MSH-2 "^~\\&": five characters, the escape character twice
      {"lfh_adt_crlf_malformed_msh2.hl7", {invalid("MSH-2")}},
      {"lfh_oru_26_multiline_text_LF.hl7", {built(1, 4)}},
      {"nist_elr_oru_r01_251_case1_CR.hl7", {built(1, 1)}},
      {"nist_elr_oru_r01_251_case2_CR.hl7", {built(1, 1)}},
      {"nist_elr_oru_r01_251_case3_CR.hl7", {built(1, 1)}},
      {"nist_elr_oru_r01_251_case4_CR.hl7", {built(1, 1)}},
      {"nist_elr_oru_r01_251_case5_CR.hl7", {built(1, 1)}},
      {"nist_elr_oru_r01_251_case6_CR.hl7", {built(1, 3)}},
      {"olis_erp_z99_chem_zsegments_LF.hl7", {rejected()}},  // ERP^Z99 query response
      {"transcripts/erba_elite580_oru_transcript_bracket_notation.txt", {built(1, 36)}},
      {"transcripts/erba_elite580_host_ack_raw_crlf.txt", {rejected()}},  // ACK^R01
  };
  return kTable;
}

std::string inputOf(const std::string& name) {
  std::string text = readFile(corpusDir() / name);
  return name.find("bracket_notation") != std::string::npos ? fromTranscript(text) : text;
}

// The outcome of one message through the whole chain.
Outcome run(const std::string& message) {
  StatusOr<MessageHeader> header = parseHeader(message);
  StatusOr<Document> document = parseHl7(message, Hl7Options{});
  if (!header.isOk()) {
    EXPECT_FALSE(document.isOk());
    return invalid(header.status().location());
  }
  if (!document.isOk()) return {0, 0, document.status().location(), document.status().code()};
  StatusOr<Message> parsed = buildMessage(document.value(), Hl7Options{});
  if (!parsed.isOk()) return {0, 0, parsed.status().location(), parsed.status().code()};
  EXPECT_EQ(parsed->controlId, header->controlId);
  return built(parsed->samples.size(), parsed->resultCount());
}

TEST(Hl7Corpus, EveryFileGivesTheExpectedOutcome) {
  if (!fs::is_directory(corpusDir())) GTEST_SKIP() << "no shared corpus";
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(corpusDir())) {
    if (!entry.is_regular_file()) continue;
    const std::string name = fs::relative(entry.path(), corpusDir()).generic_string();
    if (name.rfind("fragment_", 0) == 0) continue;  // tested below
    auto expected = expectations().find(name);
    ASSERT_NE(expected, expectations().end()) << "no expectation for " << name;
    ++files;
    std::vector<std::string> messages = splitBatch(inputOf(name));
    ASSERT_EQ(messages.size(), expected->second.size()) << name;
    for (size_t i = 0; i < messages.size(); ++i) {
      const Outcome got = run(messages[i]);
      const Outcome& want = expected->second[i];
      EXPECT_EQ(got.location, want.location) << name << " message " << i + 1;
      EXPECT_EQ(got.code, want.code) << name << " message " << i + 1;
      EXPECT_EQ(got.samples, want.samples) << name << " message " << i + 1;
      EXPECT_EQ(got.results, want.results) << name << " message " << i + 1;
    }
  }
  EXPECT_EQ(files, expectations().size());
}

TEST(Hl7Corpus, ErbaTranscriptValuesAndFlags) {
  if (!fs::is_directory(corpusDir())) GTEST_SKIP() << "no shared corpus";
  std::vector<std::string> messages =
      splitBatch(inputOf("transcripts/erba_elite580_oru_transcript_bracket_notation.txt"));
  ASSERT_EQ(messages.size(), 1u);
  StatusOr<Document> document = parseHl7(messages[0], Hl7Options{});
  ASSERT_TRUE(document.isOk()) << document.status().toString();
  StatusOr<Message> message = buildMessage(document.value(), Hl7Options{});
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  const std::vector<Result>& results = message->samples[0].results;
  EXPECT_EQ(results[0].value, "A");              // IS
  EXPECT_FALSE(results[3].numeric.has_value());  // NM left empty
  EXPECT_EQ(results[6].instrumentCode, "6690-2");
  EXPECT_DOUBLE_EQ(*results[6].numeric, 6.75);
  EXPECT_EQ(results[6].flags, "N");  // "~N": the empty first repeat dropped
  EXPECT_EQ(results[26].flags, "L~A");
  EXPECT_EQ(results[6].location, "OBX-11");
}

TEST(Hl7Corpus, GlucoseSnAndEscapedUrl) {
  if (!fs::is_directory(corpusDir())) GTEST_SKIP() << "no shared corpus";
  StatusOr<Document> glucose =
      parseHl7(splitBatch(inputOf("hl7spec_glucose_oru_sn_value_LF.hl7"))[0], Hl7Options{});
  ASSERT_TRUE(glucose.isOk());
  StatusOr<Message> message = buildMessage(glucose.value(), Hl7Options{});
  ASSERT_TRUE(message.isOk());
  EXPECT_EQ(message->samples[0].results[0].value, "182");
  EXPECT_DOUBLE_EQ(*message->samples[0].results[0].numeric, 182);
  EXPECT_EQ(message->samples[0].results[0].flags, "H");

  StatusOr<Document> oul =
      parseHl7(splitBatch(inputOf("fhirconv_oul_r22_escape_T_LF.hl7"))[0], Hl7Options{});
  ASSERT_TRUE(oul.isOk());
  bool sawDecodedAmpersand = false;
  for (const Record& record : oul->records) {
    if (record.type != "OBX" || record.fields.size() <= 5) continue;
    const Field& value = record.fields[5];
    if (value.raw().find("\\T\\") == std::string::npos) continue;
    EXPECT_EQ(value.text().find("\\T\\"), std::string::npos);
    sawDecodedAmpersand = value.text().find('&') != std::string::npos;
  }
  EXPECT_TRUE(sawDecodedAmpersand);
}

TEST(Hl7Corpus, EscapedFragmentParsesInsideAMessage) {
  if (!fs::is_directory(corpusDir())) GTEST_SKIP() << "no shared corpus";
  std::string fragment = readFile(corpusDir() / "fragment_obx5_escaped_uuencoded_85KB.txt");
  while (!fragment.empty() && (fragment.back() == '\n' || fragment.back() == '\r')) {
    fragment.pop_back();
  }
  std::string text =
      "MSH|^~\\&|Analyzer|Lab|||20240101120000||ORU^R01|FRAG-1|P|2.5.1\rOBR|1||FRAG\r"
      "OBX|1|TX|UUE^Encoded payload^L||";
  text.append(fragment).append("||||||F\r");
  StatusOr<Document> document = parseHl7(text, Hl7Options{});
  ASSERT_TRUE(document.isOk()) << document.status().toString();
  const Field& value = document->records[2].fields[5];
  EXPECT_EQ(value.raw(), fragment);
  const std::string decoded = unescapeText(fragment);
  EXPECT_EQ(std::count(decoded.begin(), decoded.end(), '\r'), 1112);
  EXPECT_EQ(std::count(decoded.begin(), decoded.end(), '|'), 0);
  EXPECT_EQ(std::count(value.text().begin(), value.text().end(), '^'), 1092);
  EXPECT_EQ(std::count(value.text().begin(), value.text().end(), '&'), 1002);
  EXPECT_EQ(std::count(value.text().begin(), value.text().end(), '\\'), 1017);
  StatusOr<Message> message = buildMessage(document.value(), Hl7Options{});
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  EXPECT_EQ(message->samples[0].results[0].value.size(), value.text().size());
  EXPECT_EQ(serialise(document.value()), text);
}

}  // namespace
}  // namespace labgate::hl7
