// Tests for engine/phi/phi_gate: structural rules per location, each pattern class in free text,
// result values and order fields, strip vs refuse, the traps that must pass, the allow-list and
// numeric-field semantics, pattern-file validation errors, and that no Hit or Status ever carries
// the screened value. Uses the shipped config/phi-patterns.json and the synthetic corpus in
// tests/data/phi/. All patient data here is invented.
#include "engine/phi/phi_gate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/engine/phi/phi_test_support.h"

namespace labgate::phi {
namespace {

using testing::astmDocument;
using testing::hitList;
using testing::readFile;

const PhiGate& shipped() {
  static const PhiGate gate = [] {
    auto loaded = PhiGate::loadFile(std::string(LABGATE_SOURCE_DIR) + "/config/phi-patterns.json");
    EXPECT_TRUE(loaded.isOk()) << loaded.status().toString();
    return loaded.isOk() ? loaded.value() : PhiGate();
  }();
  return gate;
}

Screening screenText(const std::string& astm, Policy policy = Policy::kRefuse) {
  Document document = astmDocument(astm);
  return shipped().screen(document, policy);
}

/// Fails when any hit string mentions `value` (the rule above all: hits carry no values).
void expectNoValue(const Screening& screening, const std::string& value) {
  for (const Hit& hit : screening.hits) {
    EXPECT_EQ(hit.location.find(value), std::string::npos) << hit.location;
    EXPECT_EQ(hit.patternId.find(value), std::string::npos) << hit.patternId;
  }
}

const char* kHeader = "H|\\^&|||Bench^1.0^SN123|||||LIS||P|LIS2-A2|20250611083000\n";

// ---------------------------------------------------------------------------------------------
// Structural rules

TEST(PhiGateStructural, EveryAstmPatientLocationIsRefused) {
  const std::map<size_t, std::string> values = {{3, "PR-448213"},
                                                {4, "LB-99120"},
                                                {5, "NID-7712003"},
                                                {6, "Quillfeather^Marisol"},
                                                {7, "Brandywine"},
                                                {8, "19580314"},
                                                {11, "4471 Larkspur Avenue^^Fennimore^WI"},
                                                {13, "608-555-0192"}};
  for (const auto& [field, value] : values) {
    std::string p = "P|1";
    for (size_t i = 3; i < field; ++i) p += "|";
    p += "|" + value;
    Screening screening = screenText(std::string(kHeader) + p + "\nL|1|N\n");
    std::string location = "P-" + std::to_string(field);
    ASSERT_EQ(screening.hits.size(), 1u) << location;
    EXPECT_EQ(screening.hits[0].location, location);
    EXPECT_EQ(screening.hits[0].patternId, "structural." + location);
    EXPECT_EQ(screening.hits[0].field, field);
    EXPECT_EQ(screening.hits[0].recordOrdinal, 1);
    expectNoValue(screening, value);
  }
}

TEST(PhiGateStructural, BlankAndPlaceholderFieldsDoNotFire) {
  // Empty components, the Delphi null date and an explicit "unknown" are not patient data.
  Screening screening =
      screenText(std::string(kHeader) + "P|1||  |||^^^^||18991230|U|||^^^^||^^DR.7\nL|1|N\n");
  EXPECT_TRUE(screening.clean()) << ::testing::PrintToString(hitList(screening));
  screening = screenText(std::string(kHeader) + "P|1|||||unknown\nL|1|N\n");
  EXPECT_TRUE(screening.clean());
}

Document hl7Pid() {
  Document document;
  document.format = SourceFormat::kHl7;
  auto add = [&](std::string type, std::vector<std::string> texts) {
    Record record;
    record.type = type;
    record.ordinal = static_cast<int>(document.records.size());
    record.fields.push_back(Field{type, type, false});
    for (const std::string& text : texts) record.fields.push_back(Field{text, text, false});
    document.records.push_back(record);
  };
  add("MSH", {"|", "^~\\&", "LAB", "NORTHSIDE", "LIS", "", "20250611083000"});
  add("PID", {"1", "", "M4471203^^^NORTHSIDE^MR", "", "Quillfeather^Marisol", "", "19580314", "F",
              "", "", "", "", "", "", "", "", "", "", "512-48-9027"});
  add("NK1", {"1", "Quillfeather^Tobias", "SPO"});
  add("OBX", {"1", "NM", "2345-7^Glucose^LN", "", "5.4", "mmol/L", "3.9-6.1", "N"});
  return document;
}

TEST(PhiGateStructural, Hl7PidAndNextOfKinFieldsAreRefused) {
  Document document = hl7Pid();
  Screening screening = shipped().screen(document, Policy::kRefuse);
  EXPECT_EQ(hitList(screening),
            (std::vector<std::string>{"PID-3=structural.PID-3", "PID-5=structural.PID-5",
                                      "PID-7=structural.PID-7", "PID-19=structural.PID-19",
                                      "NK1-2=structural.NK1-2"}));
  expectNoValue(screening, "Quillfeather");
  expectNoValue(screening, "512-48-9027");
}

// ---------------------------------------------------------------------------------------------
// Pattern classes in C-4 free text, R-4 text values and O fields

struct Sample {
  const char* id;
  const char* text;
  const char* value;  // the identifying part, which no hit may contain
};

const std::vector<Sample>& patternSamples() {
  static const std::vector<Sample> samples = {
      {"ssn.delimited", "reported SSN 512-48-9027 at desk", "512-48-9027"},
      {"ssn.context", "social security no 512489027", "512489027"},
      {"phone.nanp", "call (414) 555-0178 with results", "555-0178"},
      {"phone.context", "Tel. 608 555 0133 for the ward", "555 0133"},
      {"phone.e164", "call +44 20 7946 0958 with results", "7946 0958"},
      {"email", "contact hwillowby@examplemail.org", "hwillowby"},
      {"url", "see https://portal.example.org/chart/88123", "portal.example.org"},
      {"ip.context", "client IP 10.44.7.129 on portal", "10.44.7.129"},
      {"dob.context", "DOB 07/22/1941 per requisition", "07/22/1941"},
      {"date.event", "admitted 2025-06-09 via ED", "2025-06-09"},
      {"age.over_89", "patient is 93 yo, frail", "93 yo"},
      {"address.street", "courier to 2210 Juniper Ridge Road today", "Juniper"},
      {"address.po_box", "mail to PO Box 4471", "4471"},
      {"zip.context", "zip: 53809", "53809"},
      {"zip.after_state", "lives in Fennimore, WI 53809", "Fennimore"},
      {"name.title", "spoke with Mrs. Thistlewood today", "Thistlewood"},
      {"name.context", "Name: Brandywine", "Brandywine"},
      {"name.after_patient", "patient Marisol Quillfeather called", "Quillfeather"},
      {"mrn.context", "MRN: K7730418 relabelled", "K7730418"},
      {"account.context", "Medicaid #: QX4471203", "QX4471203"},
      {"license.context", "driver license no WI-8812-4471", "8812"},
  };
  return samples;
}

TEST(PhiGatePatterns, EveryShippedPatternHasASample) {
  std::set<std::string> sampled;
  for (const Sample& sample : patternSamples()) sampled.insert(sample.id);
  sampled.insert("name.first_name_pair");  // exports only: sampled in phi_export_test.cpp
  EXPECT_EQ(sampled.size(), shipped().patternCount());
}

TEST(PhiGatePatterns, EachClassHitsInACommentResultTextAndOrderField) {
  for (const Sample& sample : patternSamples()) {
    SCOPED_TRACE(sample.id);
    std::string message = std::string(kHeader) + "P|1\nO|1|240612-0091||^^^TSH|R||||||N||" +
                          sample.text + "\nR|1|^^^TSH|" + sample.text +
                          "|mIU/L||||F||OP17||20250611082955\nC|1|L|" + sample.text + "|G\nL|1|N\n";
    Screening screening = screenText(message);
    EXPECT_EQ(hitList(screening), (std::vector<std::string>{std::string("O-14=") + sample.id,
                                                            std::string("R-4=") + sample.id,
                                                            std::string("C-4=") + sample.id}));
    expectNoValue(screening, sample.value);
  }
}

TEST(PhiGatePatterns, AFieldIsReportedOnceWithTheFirstRule) {
  Screening screening = screenText(
      std::string(kHeader) + "C|1|L|SSN 512-48-9027, phone (414) 555-0178, MRN: K7730418|G\n");
  EXPECT_EQ(hitList(screening), (std::vector<std::string>{"C-4=ssn.delimited"}));
}

TEST(PhiGatePatterns, ExemptFieldsAreNotScanned) {
  // H-5 sender and H-8 sender phone describe the instrument and the lab, not a patient.
  Screening screening =
      screenText("H|\\^&|||Bench^1.0^SN 512-48-9027|||(414) 555-0100||LIS||P|LIS2-A2\nL|1|N\n");
  EXPECT_TRUE(screening.clean()) << ::testing::PrintToString(hitList(screening));
}

TEST(PhiGatePatterns, NonUtf8AndLongFieldsAreScannedSafely) {
  std::string latin1 = "Patient: Mo\xfcller \xe9t\xe9";
  EXPECT_EQ(hitList(screenText(std::string(kHeader) + "C|1|L|" + latin1 + "|G\n")),
            (std::vector<std::string>{"C-4=name.context"}));
  std::string longText(200000, 'A');
  longText += " SSN 512-48-9027";
  EXPECT_EQ(hitList(screenText(std::string(kHeader) + "C|1|L|" + longText + "|G\n")),
            (std::vector<std::string>{"C-4=ssn.delimited"}));
}

// ---------------------------------------------------------------------------------------------
// Traps that must pass

TEST(PhiGateTraps, LabLookAlikesPass) {
  const std::vector<std::string> records = {
      "O|1|240612-0087|S123456789^12^3|^^^NA|R|20250611080000|20250611075500",  // ids, dates
      "O|2|S123456789||^^^CK|R|20250611080000|20250611075500||||Q",
      "R|1|^^^CK|12345|U/L|<190|HH||F||OP17^JSMITH||20250611082955|CB7-88213",  // 5-digit value
      "R|2|^^^NA|140|mmol/L|135-145|N||F||4471203||20250611082956",             // operator id
      "R|3|^^^K|4.1|mmol/L|3.5-5.0|N||F||OP17||20250611082957",
      "R|4|^^^LOT|20251231|||||F||OP17||20250611082958",  // expiry in R
      "R|5|^^^ADDISON|Addison screen negative",
      "R|6|^^^CUSHING|Cushing panel pending",
      "R|7|^^^GRAM|Gram stain: gram-negative rods",
      "R|8|^^^DAT|Coombs direct 2+",
      "C|1|I|Bence Jones protein absent; Epstein-Barr VCA IgM negative; Hodgkin panel|G",
      "C|2|I|LOT 2025-0931 EXP 20251231|G",
      "C|3|I|Sample ID# 240612-0087 collected 2025-06-11 07:55|G",
      "M|1|REAGENT|NA^LOT 2025-0931^20251231",
      "O|3|QC-L1||^^^GLU|R|20251231||||||Q||||CTRL^^LOT 2025-0931 20251231",
  };
  for (const std::string& record : records) {
    Screening screening = screenText(
        std::string("H|\\^&|||XN-550^00-24^22723^^^^BD634545|||||LIS||P\n") + record + "\nL|1|N\n");
    EXPECT_TRUE(screening.clean())
        << "record " << record.substr(0, 2) << " " << ::testing::PrintToString(hitList(screening));
  }
}

// ---------------------------------------------------------------------------------------------
// Policies

const char* kMixed =
    "H|\\^&|||Bench^1.0|||||LIS||P|LIS2-A2\n"
    "P|1||||Quillfeather^Marisol||19580314|F\n"
    "O|1|240612-0087||^^^GLU|R|20250611080000\n"
    "R|1|^^^GLU|5.4|mmol/L|3.9-6.1|N||F||OP17||20250611082955\n"
    "C|1|L|MRN: K7730418 relabelled|G\n"
    "L|1|N\n";

TEST(PhiGatePolicy, RefuseLeavesTheDocumentUntouched) {
  Document document = astmDocument(kMixed);
  Document before = document;
  Screening screening = shipped().screen(document, Policy::kRefuse);
  EXPECT_EQ(
      hitList(screening),
      (std::vector<std::string>{"P-6=structural.P-6", "P-8=structural.P-8", "C-4=mrn.context"}));
  ASSERT_EQ(document.records.size(), before.records.size());
  for (size_t r = 0; r < document.records.size(); ++r) {
    ASSERT_EQ(document.records[r].fields.size(), before.records[r].fields.size());
    for (size_t f = 0; f < document.records[r].fields.size(); ++f) {
      EXPECT_EQ(document.records[r].fields[f].raw(), before.records[r].fields[f].raw());
      EXPECT_EQ(document.records[r].fields[f].text(), before.records[r].fields[f].text());
      EXPECT_FALSE(document.records[r].fields[f].stripped());
    }
  }
}

TEST(PhiGatePolicy, StripClearsTheHitFieldsAndOnlyThose) {
  Document document = astmDocument(kMixed);
  Document before = document;
  Screening screening = shipped().screen(document, Policy::kStrip);
  std::set<std::pair<int, size_t>> hit;
  for (const Hit& h : screening.hits) hit.insert({h.recordOrdinal, h.field});
  EXPECT_EQ(hit.size(), 3u);
  for (size_t r = 0; r < document.records.size(); ++r) {
    for (size_t f = 0; f < document.records[r].fields.size(); ++f) {
      const Field& field = document.records[r].fields[f];
      if (hit.count({document.records[r].ordinal, f})) {
        EXPECT_TRUE(field.stripped());
        EXPECT_TRUE(field.raw().empty());
        EXPECT_TRUE(field.text().empty());
      } else {
        EXPECT_FALSE(field.stripped());
        EXPECT_EQ(field.raw(), before.records[r].fields[f].raw());
      }
    }
  }
  // A stripped document screens clean, and the hits were the same as under refuse.
  EXPECT_TRUE(shipped().screen(document, Policy::kRefuse).clean());
  Document again = astmDocument(kMixed);
  EXPECT_EQ(hitList(shipped().screen(again, Policy::kRefuse)), hitList(screening));
}

TEST(PhiGatePolicy, ParsePolicy) {
  EXPECT_EQ(parsePolicy("refuse").value(), Policy::kRefuse);
  EXPECT_EQ(parsePolicy("strip").value(), Policy::kStrip);
  auto bad = parsePolicy("Strip!");
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), Status::Code::kConfig);
}

TEST(PhiGatePolicy, CopiesShareRulesAndScreenConcurrently) {
  PhiGate copy = shipped();
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> results(4);
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        Document document = astmDocument(kMixed);
        results[t] = hitList(copy.screen(document, Policy::kStrip));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result.size(), 3u);
  EXPECT_EQ(PhiGate().patternCount(), 0u);
  Document document = astmDocument(kMixed);
  EXPECT_TRUE(PhiGate().screen(document, Policy::kRefuse).clean());
}

// ---------------------------------------------------------------------------------------------
// Allow-list and numeric-value semantics, with small custom rule files

StatusOr<PhiGate> custom(const std::string& json) { return PhiGate::fromJson(json, "custom.json"); }

TEST(PhiGateRules, AllowListCoversOnlyWholeMatches) {
  auto gate = custom(R"({"version": 1,
    "patterns": [{"id": "name.pair", "regex": "\\b[A-Z][a-z]+ [A-Z][a-z]+\\b"}],
    "allow": [{"id": "allow.bj", "regex": "bence jones( protein)?", "case_insensitive": true}]})");
  ASSERT_TRUE(gate.isOk()) << gate.status().toString();
  auto screen = [&](const std::string& text) {
    Document document = astmDocument(std::string(kHeader) + "C|1|I|" + text + "|G\n");
    return hitList(gate->screen(document, Policy::kRefuse));
  };
  EXPECT_TRUE(screen("Bence Jones protein absent").empty());
  EXPECT_EQ(screen("Mary Jones called"), (std::vector<std::string>{"C-4=name.pair"}));
  // The allowed phrase does not hide a name next to it.
  EXPECT_EQ(screen("Bence Jones Mary Jones"), (std::vector<std::string>{"C-4=name.pair"}));
}

TEST(PhiGateRules, NumericIdPatternsSkipNumericValues) {
  const std::string rules = R"({"version": 1,
    "numeric_value": "[<>]?\\d+(?:[.,]\\d+)?(?:\\s*-\\s*\\d+(?:[.,]\\d+)?)?",
    "patterns": [{"id": "site.mrn5", "regex": "\\b\\d{5}\\b", "numeric_id": NUMERIC}]})";
  auto skipping = custom(std::regex_replace(rules, std::regex("NUMERIC"), "true"));
  auto strict = custom(std::regex_replace(rules, std::regex("NUMERIC"), "false"));
  ASSERT_TRUE(skipping.isOk()) << skipping.status().toString();
  ASSERT_TRUE(strict.isOk());
  Document document = astmDocument(std::string(kHeader) +
                                   "R|1|^^^CK|12345|U/L\nR|2|^^^X|see 12345\nC|1|I|12345|G\n");
  Document copy = document;
  EXPECT_EQ(hitList(skipping->screen(document, Policy::kRefuse)),
            (std::vector<std::string>{"R-4=site.mrn5"}));
  EXPECT_EQ(hitList(strict->screen(copy, Policy::kRefuse)),
            (std::vector<std::string>{"R-4=site.mrn5", "R-4=site.mrn5", "C-4=site.mrn5"}));
}

TEST(PhiGateRules, StructuralEntriesWithIdsWildcardsAndExemptions) {
  auto gate = custom(R"({"version": 1, "patterns": [{"id": "x", "regex": "secret"}],
    "structural": {"astm": [{"location": "P-6", "id": "structural.patient_name"}, "Z-*"]},
    "exempt": {"astm": ["C-*"]}})");
  ASSERT_TRUE(gate.isOk()) << gate.status().toString();
  Document document =
      astmDocument(std::string(kHeader) + "P|1||||Doe\nZ|1|a\nC|1|I|secret|G\nR|1|^^^A|secret\n");
  EXPECT_EQ(hitList(gate->screen(document, Policy::kRefuse)),
            (std::vector<std::string>{"P-6=structural.patient_name", "Z-1=structural.Z-*",
                                      "Z-2=structural.Z-*", "Z-3=structural.Z-*", "R-4=x"}));
  EXPECT_EQ(gate->structuralCount(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Pattern-file validation

TEST(PhiGateRules, MalformedFilesGivePreciseErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "not valid JSON"},
      {"[]", "top level must be a JSON object"},
      {R"({"version": 1, "patterns": [], "colour": 1})",
       "colour: unknown key; known keys are allow, columns, description, exempt, exempt_all, "
       "numeric_value, patterns, placeholders, structural, version"},
      {R"({"patterns": []})", "\"version\" must be present and equal to 1"},
      {R"({"version": 2, "patterns": []})", "\"version\" must be present"},
      {R"({"version": 1})", "missing key \"patterns\""},
      {R"({"version": 1, "patterns": {}})", "\"patterns\" must be an array"},
      {R"({"version": 1, "patterns": [{"regex": "a"}]})", "patterns[0]: missing key \"id\""},
      {R"({"version": 1, "patterns": [{"id": "", "regex": "a"}]})", "\"id\" is empty"},
      {R"({"version": 1, "patterns": [{"id": "a"}]})", "(id \"a\"): missing key \"regex\""},
      {R"({"version": 1, "patterns": [{"id": "a", "regex": "x", "flavour": 1}]})",
       "patterns[0]: flavour: unknown key; known keys are case_insensitive, description, formats, "
       "id, numeric_id, regex, screen_exempt"},
      {R"({"version": 1, "patterns": [{"id": "a", "regex": "x"}, {"id": "a", "regex": "y"}]})",
       "patterns[1] (id \"a\"): duplicate id"},
      {R"({"version": 1, "patterns": [{"id": "a", "regex": "x"}],
           "allow": [{"id": "a", "regex": "y"}]})",
       "allow[0] (id \"a\"): duplicate id"},
      {R"({"version": 1, "patterns": [{"id": "ssn", "regex": "(\\d{3}"}]})",
       "patterns[0] (id \"ssn\"): regex does not compile: missing )"},
      {R"({"version": 1, "patterns": [{"id": "lazy", "regex": "\\d*"}]})",
       "(id \"lazy\"): regex matches the empty string"},
      {R"({"version": 1, "patterns": [{"id": "a", "regex": "x", "case_insensitive": "yes"}]})",
       "\"case_insensitive\" must be true or false"},
      {R"({"version": 1, "patterns": [{"id": "structural.x", "regex": "x"}]})", "reserved"},
      {R"({"version": 1, "patterns": [{"id": "a", "regex": "x"}], "allow": [{"id": "b",
           "regex": "y", "numeric_id": true}]})",
       "allow[0]: numeric_id: unknown key; known keys are"},
      {R"({"version": 1, "patterns": [], "structural": {"astm": ["P6"]}})",
       "structural.astm[0]: bad location \"P6\""},
      {R"({"version": 1, "patterns": [], "structural": {"fhir": ["P-6"]}})",
       "unknown format \"fhir\""},
      {R"({"version": 1, "patterns": [], "structural": {"astm": ["P-6", "P-6"]}})",
       "structural.astm[1]: duplicate location \"P-6\""},
      {R"({"version": 1, "patterns": [], "structural": {"astm": [{"location": "P-6",
           "id": "name"}]}})",
       "must start with \"structural.\""},
      {R"({"version": 1, "patterns": [], "exempt": {"hl7": [7]}})",
       "exempt.hl7[0]: must be a location string"},
      {R"({"version": 1, "patterns": [], "placeholders": ["(x"]})",
       "placeholders[0]: regex does not compile"},
      {R"({"version": 1, "patterns": [], "numeric_value": "\\d*"})",
       "numeric_value: regex matches the empty string"},
  };
  for (const auto& [json, expected] : cases) {
    auto gate = custom(json);
    ASSERT_FALSE(gate.isOk()) << json;
    EXPECT_EQ(gate.status().code(), Status::Code::kConfig) << json;
    EXPECT_EQ(gate.status().location(), "custom.json");
    EXPECT_NE(gate.status().reason().find(expected), std::string::npos)
        << "reason: " << gate.status().reason() << "\nexpected to contain: " << expected;
  }
}

TEST(PhiGateRules, LoadFileNamesThePath) {
  auto missing = PhiGate::loadFile("/nonexistent/phi-patterns.json");
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().code(), Status::Code::kConfig);
  EXPECT_EQ(missing.status().location(), "/nonexistent/phi-patterns.json");
  EXPECT_GT(shipped().patternCount(), 0u);
  EXPECT_GT(shipped().allowCount(), 0u);
}

// ---------------------------------------------------------------------------------------------
// The synthetic corpus in tests/data/phi

std::set<std::string> expectedFrom(const std::string& text, bool* clean) {
  std::set<std::string> expected;
  *clean = false;
  for (const std::string& line : testing::splitLines(text)) {
    if (line.rfind("# expect:", 0) != 0) continue;
    std::istringstream words(line.substr(9));
    std::string word;
    while (words >> word) {
      if (word == "clean") {
        *clean = true;
      } else {
        expected.insert(word);
      }
    }
  }
  return expected;
}

TEST(PhiGateCorpus, SyntheticMessagesMatchTheirExpectations) {
  namespace fs = std::filesystem;
  const std::string dir = std::string(LABGATE_TEST_DATA_DIR) + "/phi";
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".astm") continue;
    ++files;
    const std::string name = entry.path().filename().string();
    const std::string text = readFile(entry.path().string());
    bool clean = false;
    std::set<std::string> expected = expectedFrom(text, &clean);
    ASSERT_TRUE(clean != !expected.empty()) << name << ": needs '# expect:' lines";
    EXPECT_EQ(clean, name.rfind("clean_", 0) == 0) << name;
    Document document = astmDocument(text);
    Screening screening = shipped().screen(document, Policy::kRefuse);
    std::vector<std::string> hits = hitList(screening);
    std::set<std::string> actual(hits.begin(), hits.end());
    EXPECT_EQ(actual, expected) << name;
    // Under strip the same document comes back clean.
    shipped().screen(document, Policy::kStrip);
    EXPECT_TRUE(shipped().screen(document, Policy::kRefuse).clean()) << name;
  }
  EXPECT_GE(files, 5u);
}

}  // namespace
}  // namespace labgate::phi
