// The PHI gate on batch exports: column names that identify a patient (classifyNames and the
// nameRules they set on a record), the export-only first-name pattern, the delimited and XML
// locations, and the "formats" key of a pattern. Uses the shipped config/phi-patterns.json.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/phi/phi_gate.h"

namespace labgate::phi {
namespace {

const PhiGate& shipped() {
  static const PhiGate gate = [] {
    auto loaded = PhiGate::loadFile(std::string(LABGATE_SOURCE_DIR) + "/config/phi-patterns.json");
    EXPECT_TRUE(loaded.isOk()) << loaded.status().toString();
    return loaded.isOk() ? loaded.value() : PhiGate();
  }();
  return gate;
}

/// One delimited-export row (type "column") with its header names and their classification.
Document row(const std::vector<std::string>& header, const std::vector<std::string>& cells,
             int line = 3) {
  auto names = std::make_shared<std::vector<std::string>>(1, "");
  names->insert(names->end(), header.begin(), header.end());
  Record record;
  record.type = "column";
  record.line = line;
  record.fields.resize(cells.size() + 1);
  for (size_t i = 0; i < cells.size(); ++i) {
    record.fields[i + 1].setRaw(cells[i]);
    record.fields[i + 1].setText(cells[i]);
  }
  record.names = names;
  record.nameRules = shipped().classifyNames(*names);
  Document doc;
  doc.format = SourceFormat::kCsv;
  doc.records.push_back(std::move(record));
  return doc;
}

std::vector<std::string> hits(const Screening& s) {
  std::vector<std::string> out;
  for (const auto& h : s.hits) out.push_back(h.location + "=" + h.patternId);
  return out;
}

TEST(PhiExportColumns, IdentifyingHeadersAreClassified) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Patient Name", "column.patient"},
      {"Patient_ID", "column.patient"},
      {"Pt Name", "column.patient"},
      {"Last Name", "column.person_name"},
      {"FirstName", "column.person_name"},
      {"Surname", "column.person_name"},
      {"DOB", "column.birth"},
      {"Date of Birth", "column.birth"},
      {"Birthdate", "column.birth"},
      {"MRN", "column.record_number"},
      {"Medical Record No", "column.record_number"},
      {"SSN", "column.record_number"},
      {"Street Address", "column.address"},
      {"ZIP", "column.address"},
      {"Phone", "column.contact"},
      {"E-mail", "column.contact"},
      // camelCase and snake_case, as XML attributes and database exports name them
      {"PatientName", "column.patient"},
      {"patientId", "column.patient"},
      {"DateOfBirth", "column.birth"},
      {"LastName", "column.person_name"},
      {"patient_name", "column.patient"},
      {"PhoneNumber", "column.contact"},
      {"ZipCode", "column.address"},
      {"EMailAddress", "column.address"},
  };
  std::vector<std::string> names;
  names.reserve(cases.size());
  for (const auto& c : cases) names.push_back(c.first);
  auto rules = shipped().classifyNames(names);
  ASSERT_EQ(rules->size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ((*rules)[i], cases[i].second) << cases[i].first;
  }
}

TEST(PhiExportColumns, LabColumnsOfEveryVendorAreNotIdentifying) {
  // Headers seen in MassHunter, SCIEX, Skyline, TASQ and TargetLynx exports.
  const std::vector<std::string> names = {"Name",
                                          "Sample Name",
                                          "Data File",
                                          "Acq. Date-Time",
                                          "Type",
                                          "Level",
                                          "Compound Name",
                                          "Component Name",
                                          "Molecule Name",
                                          "Replicate Name",
                                          "AnalysisName",
                                          "AnalyteName",
                                          "Sample ID",
                                          "Sample Comment",
                                          "Sample Type",
                                          "Precursor Name",
                                          "Product Name",
                                          "IS Name",
                                          "Instrument Name",
                                          "Acq. Method File",
                                          "File Name",
                                          "Sample Text",
                                          "Vial",
                                          "Rack Type",
                                          "Calculated Concentration",
                                          "Signal / Noise",
                                          "Expected Retention Time[min]"};
  auto rules = shipped().classifyNames(names);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ((*rules)[i], "") << names[i];
  }
}

TEST(PhiExportColumns, ValueUnderAnIdentifyingHeaderIsAHitWhateverItLooksLike) {
  Document doc = row({"Name", "Patient Name", "DOB", "Area"}, {"QC-L1", "xq7", "n/a", "1234"});
  Screening s = shipped().screen(doc, Policy::kRefuse);
  // "n/a" is a placeholder: an empty DOB column is not a hit. The location names the line and
  // the column number, never the header (headers are data in a delimited file).
  EXPECT_EQ(hits(s), (std::vector<std::string>{"line 3 column 2=column.patient"}));
}

TEST(PhiExportColumns, StripEmptiesTheColumnAndKeepsTheRest) {
  Document doc = row({"Name", "Patient Name", "Area"}, {"S-0001", "Vesprey Ottoline", "1234"});
  Screening s = shipped().screen(doc, Policy::kStrip);
  ASSERT_EQ(s.hits.size(), 1u);
  const Record& r = doc.records.front();
  EXPECT_TRUE(r.fields[2].stripped());
  EXPECT_TRUE(r.fields[2].raw().empty());
  EXPECT_EQ(r.fields[1].raw(), "S-0001");
  EXPECT_EQ(r.fields[3].raw(), "1234");
}

TEST(PhiExportPatterns, FirstNamePairIsFoundInSampleNames) {
  for (const std::string name : {"Smith_John_QC", "QC_Smith_Mary", "John Smith 2", "Smith, Mary",
                                 "Patricia_Vesprey_rerun"}) {
    Document doc = row({"Name", "Area"}, {name, "10"});
    Screening s = shipped().screen(doc, Policy::kRefuse);
    EXPECT_EQ(hits(s), (std::vector<std::string>{"line 3 column 1=name.first_name_pair"})) << name;
  }
}

TEST(PhiExportPatterns, LabSampleNamesPass) {
  for (const std::string name :
       {"QC_Low", "Cal_High", "Cortisol_d4", "006_EBLK_Extracted Blank+ISTD01", "SPL_S002_LZ156347",
        "130522_Std290920_96_Inj01", "Blank 01", "TQC_TQC_B 04", "Aldosterone (359)",
        "S1P d18:1 13C2D2 (IS)", "PQC Mary-Lou buffer"}) {
    Document doc = row({"Name", "Area"}, {name, "10"});
    Screening s = shipped().screen(doc, Policy::kRefuse);
    EXPECT_TRUE(s.clean()) << name << ": " << (s.clean() ? "" : s.hits.front().patternId);
  }
}

TEST(PhiExportPatterns, FirstNamePairIsNotAppliedToAstm) {
  // An operator's name in R-11 is not a patient identifier (spec: false-positive traps).
  Document doc;
  doc.format = SourceFormat::kAstm;
  Record r;
  r.type = "R";
  r.fields.resize(12);
  r.fields[11] = Field("Smith John", "Smith John");
  doc.records.push_back(r);
  EXPECT_TRUE(shipped().screen(doc, Policy::kRefuse).clean());
}

TEST(PhiExportLocations, XmlLocationsNameElementAndAttribute) {
  Record r;
  r.type = "SAMPLE";
  r.line = 40;
  r.namesInLocation = true;
  r.names =
      std::make_shared<std::vector<std::string>>(std::vector<std::string>{"", "name", "#text"});
  r.fields.resize(3);
  EXPECT_EQ(r.location(1), "line 40 SAMPLE@name");
  EXPECT_EQ(r.location(2), "line 40 SAMPLE#text");
  Record astm;
  astm.type = "P";
  EXPECT_EQ(astm.location(6), "P-6");
}

TEST(PhiExportPatterns, FormatsKeyIsValidated) {
  auto bad = PhiGate::fromJson(
      R"({"version":1,"patterns":[{"id":"x","regex":"abc","formats":["csv","pdf"]}]})", "t.json");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().toString().find("unknown format \"pdf\""), std::string::npos)
      << bad.status().toString();
  auto columns = PhiGate::fromJson(
      R"({"version":1,"patterns":[],"columns":[{"id":"column.x","regex":"(?i)kin"}]})", "t.json");
  ASSERT_TRUE(columns.isOk()) << columns.status().toString();
  auto rules = columns->classifyNames({"Next of kin", "Area"});
  EXPECT_EQ((*rules)[0], "column.x");
  EXPECT_EQ((*rules)[1], "");
}

}  // namespace
}  // namespace labgate::phi
