// Issue 18, finding 6: ways around the PHI gate that stored and forwarded identifiers, each now
// refused, and the lab's look-alikes (written with the same Unicode characters) still passing.
//   - look-alike characters: Cyrillic and Greek letters, Unicode dashes, fullwidth forms,
//     digits of other scripts, invisible characters between the digits (the gate also screens the
//     NFKC form and an ASCII fold of every non-ASCII field; engine/phi/normalize.h);
//   - identifiers joined to text by `_` or letters (`ref_219-09-9996`, a sample id
//     `SAMPLE_219-09-9996`, a file name);
//   - international numbers in E.164 shape (`+44 20 7946 0958`);
//   - names after cue words in lower case;
//   - provider and facility fields (exempt from name patterns) still screened for SSN, phone,
//     e-mail and birth dates.
// Uses the shipped config/phi-patterns.json. Every identifying value here is invented; a Hit never
// carries a value (checked for each case).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/phi/normalize.h"
#include "engine/phi/phi_gate.h"
#include "tests/unit/engine/phi/phi_test_support.h"

namespace labgate::phi {
namespace {

using testing::astmDocument;
using testing::hitList;
using testing::hl7Document;

const PhiGate& shipped() {
  static const PhiGate gate = [] {
    auto loaded = PhiGate::loadFile(std::string(LABGATE_SOURCE_DIR) + "/config/phi-patterns.json");
    EXPECT_TRUE(loaded.isOk()) << loaded.status().toString();
    return loaded.isOk() ? loaded.value() : PhiGate();
  }();
  return gate;
}

const char* kHeader = "H|\\^&|||Bench^1.0^SN123|||||LIS||P|LIS2-A2|20250611083000\n";

/// Hits of the shipped gate on an ASTM message made of the header, `records` and a terminator.
std::vector<std::string> screenAstm(const std::string& records) {
  Document document = astmDocument(std::string(kHeader) + records + "\nL|1|N\n");
  return hitList(shipped().screen(document, Policy::kRefuse));
}

void expectNoValue(const Screening& screening, const std::string& value) {
  for (const Hit& hit : screening.hits) {
    EXPECT_EQ(hit.location.find(value), std::string::npos) << hit.location;
    EXPECT_EQ(hit.patternId.find(value), std::string::npos) << hit.patternId;
  }
}

struct Evasion {
  const char* label;  // what the case is, printable
  std::string text;   // the free text (UTF-8)
  const char* rule;   // the rule that must fire
};

// U+2010 hyphen, U+2011 non-breaking hyphen, U+2013 en dash, U+2212 minus, U+200B zero-width
// space, U+FF20 fullwidth commercial at, Cyrillic U+0405 (Ѕ), U+0422 (Т), U+0435 (е), U+043E (о),
// U+0408 (Ј), Greek U+039F (Ο).
const std::vector<Evasion>& evasions() {
  static const std::vector<Evasion> cases = {
      {"Cyrillic letters in a name after a cue word", "Name: \xD0\x88\xD0\xBEhn Smith",
       "name.context"},
      {"Cyrillic capital after a title", "spoke with Mrs. \xD0\xA2histlewood today", "name.title"},
      {"Cyrillic letters in the SSN cue", "\xD0\x85\xD0\x85N 219099996 on file", "ssn.context"},
      {"Greek capital omicron in the MRN cue",
       "MRN: K77304\xCE\x9F"
       "8",
       "mrn.context"},
      {"U+2010 hyphens in an SSN",
       "SSN 219\xE2\x80\x90"
       "09\xE2\x80\x90"
       "9996",
       "ssn.delimited"},
      {"U+2011 non-breaking hyphens in an SSN",
       "id 219\xE2\x80\x91"
       "09\xE2\x80\x91"
       "9996",
       "ssn.delimited"},
      {"en dashes in an SSN",
       "219\xE2\x80\x93"
       "09\xE2\x80\x93"
       "9996",
       "ssn.delimited"},
      {"minus signs in a phone number",
       "call 414\xE2\x88\x92"
       "555\xE2\x88\x92"
       "0178",
       "phone.nanp"},
      {"zero-width spaces inside an SSN",
       "219\xE2\x80\x8B-09-99\xE2\x80\x8B"
       "96",
       "ssn.delimited"},
      {"fullwidth @ in an e-mail address",
       "contact hwillowby\xEF\xBC\xA0"
       "examplemail.org",
       "email"},
      {"fullwidth digits in an SSN",
       "\xEF\xBC\x92\xEF\xBC\x91\xEF\xBC\x99-\xEF\xBC\x90\xEF\xBC\x99-\xEF\xBC\x99\xEF\xBC\x99"
       "\xEF\xBC\x99\xEF\xBC\x96",
       "ssn.delimited"},
      {"Arabic-Indic digits in an SSN",
       "\xD9\xA2\xD9\xA1\xD9\xA9-\xD9\xA0\xD9\xA9-\xD9\xA9\xD9\xA9\xD9\xA9\xD9\xA6",
       "ssn.delimited"},
      {"UTF-8 hyphens read as Latin-1 (a message without its character set)",
       "219\xC3\xA2\xC2\x80\xC2\x90"
       "09\xC3\xA2\xC2\x80\xC2\x90"
       "9996",
       "ssn.delimited"},
      {"combining strokes over the digits of an SSN",
       "2\xCC\xB6"
       "19-09-99\xCC\xB6"
       "96",
       "ssn.delimited"},
      {"soft hyphens inside an SSN", "219\xC2\xAD-09-9996", "ssn.delimited"},
      {"no-break spaces around a birth date",
       "DOB\xC2\xA0"
       "07/22/1941",
       "dob.context"},
      {"SSN joined by an underscore", "ref_219-09-9996", "ssn.delimited"},
      {"SSN joined by letters", "ref219-09-9996x", "ssn.delimited"},
      {"SSN joined by an underscore and a Unicode dash",
       "ref_219\xE2\x80\x90"
       "09-9996",
       "ssn.delimited"},
      {"phone joined by underscores", "cb_414-555-0178_ward", "phone.nanp"},
      {"birth date after an underscored cue", "pt_dob_07/22/1941", "dob.context"},
      {"international number, UK", "family at +44 20 7946 0958", "phone.e164"},
      {"international number, Germany with a trunk zero", "+49 (0)30 901820 rang", "phone.e164"},
      {"international number, NANP with dashes", "call +1-202-555-0143", "phone.nanp"},
      {"international number, compact", "+442079460958", "phone.e164"},
      {"lower-case cue and name", "patient name: john smith", "name.context"},
      {"upper-case cue and name", "PATIENT NAME: JOHN SMITH", "name.context"},
      {"lower-case cue word 'pt'", "pt: john smith", "name.context"},
      {"lower-case title with its dot", "spoke with mrs. thistlewood", "name.title"},
      {"lower-case SSN cue", "ssn 219099996", "ssn.context"},
      {"lower-case MRN cue", "mrn k7730418", "mrn.context"},
  };
  return cases;
}

TEST(PhiEvasion, EachClassIsRefusedInACommentAResultAndAnOrderField) {
  for (const Evasion& c : evasions()) {
    SCOPED_TRACE(c.label);
    const std::string message = std::string(kHeader) + "P|1\nO|1|240612-0091||^^^TSH|R||||||N||" +
                                c.text + "\nR|1|^^^TSH|" + c.text +
                                "|mIU/L||||F||OP17||20250611082955\nC|1|L|" + c.text +
                                "|G\nL|1|N\n";
    Document document = astmDocument(message);
    Screening screening = shipped().screen(document, Policy::kRefuse);
    EXPECT_EQ(hitList(screening),
              (std::vector<std::string>{std::string("O-14=") + c.rule, std::string("R-4=") + c.rule,
                                        std::string("C-4=") + c.rule}));
    expectNoValue(screening, "9996");
    expectNoValue(screening, "0958");
    expectNoValue(screening, "hwillowby");
  }
}

TEST(PhiEvasion, Hl7FreeTextWithLookAlikesIsRefused) {
  Document document = hl7Document(
      "MSH|^~\\&|LAB|NORTHSIDE|LIS||20250611083000||ORU^R01|C1|P|2.5.1\r"
      "OBR|1|240612-0091||GLU\r"
      "OBX|1|TX|GLU^Comment^L||Copy sent to o.vantreska\xEF\xBC\xA0"
      "example.org||||||F\r"
      "NTE|1|L|Results phoned to family at +44 20 7946 0958\r"
      "NTE|2|L|SSN 538\xE2\x80\x93"
      "14\xE2\x80\x93"
      "2276 per desk\r");
  EXPECT_EQ(hitList(shipped().screen(document, Policy::kRefuse)),
            (std::vector<std::string>{"OBX-5=email", "NTE-3=phone.e164", "NTE-3=ssn.delimited"}));
}

TEST(PhiEvasion, SampleIdsJoinedToAnIdentifierAreRefused) {
  // ASTM O-3 (specimen id) and HL7 OBR-3 (filler order number) carrying an SSN behind a prefix.
  EXPECT_EQ(screenAstm("O|1|SAMPLE_219-09-9996||^^^GLU|R"),
            (std::vector<std::string>{"O-3=ssn.delimited"}));
  EXPECT_EQ(screenAstm("O|1|SAMPLE_219\xE2\x80\x90"
                       "09\xE2\x80\x90"
                       "9996||^^^GLU|R"),
            (std::vector<std::string>{"O-3=ssn.delimited"}));
  Document hl7 = hl7Document(
      "MSH|^~\\&|LAB|NORTHSIDE|LIS||20250611083000||ORU^R01|C1|P|2.5.1\r"
      "OBR|1|240612-0091|SAMPLE_219-09-9996|GLU\r");
  EXPECT_EQ(hitList(shipped().screen(hl7, Policy::kRefuse)),
            (std::vector<std::string>{"OBR-3=ssn.delimited"}));
  // A sample id after its cue keeps passing (the allow-list covers lab identifiers).
  EXPECT_TRUE(screenAstm("C|1|I|Sample ID# 240612-0087 collected 2025-06-11 07:55|G").empty());
}

/// One delimited-export row with its header (type "column", as the CSV parser makes it).
Document exportRow(const std::vector<std::string>& header, const std::vector<std::string>& cells) {
  auto names = std::make_shared<std::vector<std::string>>(1, "");
  names->insert(names->end(), header.begin(), header.end());
  Record record;
  record.type = "column";
  record.line = 3;
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

TEST(PhiEvasion, ExportCellsFileNamesAndHeadersGetTheSameNormalisation) {
  const std::vector<std::string> header = {"Sample Name", "Sample ID", "Comment", "Conc"};
  Document joined = exportRow(header, {"Unknown 3", "SAMPLE_219-09-9996", "", "12.5"});
  EXPECT_EQ(hitList(shipped().screen(joined, Policy::kRefuse)),
            (std::vector<std::string>{"line 3 column 2=ssn.delimited"}));
  Document dashed = exportRow(header, {"Unknown 3", "S-0087", "call +44 20 7946 0958",
                                       "12\xE2\x80\x93"
                                       "15"});
  EXPECT_EQ(hitList(shipped().screen(dashed, Policy::kRefuse)),
            (std::vector<std::string>{"line 3 column 3=phone.e164"}));

  // The file name, screened as the pipeline does (a one-field record named "file name").
  auto fileName = [](const std::string& name) {
    Document doc;
    doc.format = SourceFormat::kCsv;
    Record record;
    record.type = "file name";
    record.fields.resize(2);
    record.fields[0].setRaw(record.type);
    record.fields[1].setRaw(name);
    record.fields[1].setText(name);
    doc.records.push_back(std::move(record));
    return hitList(shipped().screen(doc, Policy::kRefuse));
  };
  EXPECT_EQ(fileName("batch_219-09-9996.csv"),
            (std::vector<std::string>{"file name-1=ssn.delimited"}));
  EXPECT_EQ(fileName("batch_219\xE2\x80\x90"
                     "09\xE2\x80\x90"
                     "9996.csv"),
            (std::vector<std::string>{"file name-1=ssn.delimited"}));
  EXPECT_TRUE(fileName("QQQ01_2025-06-11_batch_0931.csv").empty());
  EXPECT_TRUE(fileName("Vitamin_D_25\xE2\x80\x93OH_run_12.csv").empty());

  // Headers written with fullwidth or Cyrillic letters are classified like their plain spelling.
  auto rules =
      shipped().classifyNames({"\xEF\xBC\xB0"
                               "atient \xEF\xBC\xAE"
                               "ame",
                               "\xD0\xA0\xD0\xB0tient ID",
                               "D\xD0\x9E"
                               "B",
                               "Sample Name"});
  ASSERT_EQ(rules->size(), 4u);
  EXPECT_EQ((*rules)[0], "column.patient");
  EXPECT_EQ((*rules)[1], "column.patient");
  EXPECT_EQ((*rules)[2], "column.birth");
  EXPECT_EQ((*rules)[3], "");
}

TEST(PhiEvasion, ProviderAndFacilityFieldsAreStillScreenedForNumbersAndAddresses) {
  // ASTM O-17 ordering physician, O-18 physician's phone, P-14 attending physician: a name is
  // fine, an SSN, a patient's phone, an e-mail address or a birth date is not.
  EXPECT_TRUE(screenAstm("P|1||||||||||||PHY1234^Kildare^James\nO|1|240612-0091||^^^GLU|R||||||"
                         "N|||||DR7^Kildare^James")
                  .empty());
  EXPECT_EQ(screenAstm("P|1||||||||||||219-09-9996^Kildare"),
            (std::vector<std::string>{"P-14=ssn.delimited"}));
  EXPECT_EQ(screenAstm("O|1|240612-0091||^^^GLU|R||||||N|||||Kildare|(414) 555-0178"),
            (std::vector<std::string>{"O-18=phone.nanp"}));
  EXPECT_EQ(screenAstm("O|1|240612-0091||^^^GLU|R||||||N|||||kildare\xEF\xBC\xA0"
                       "example.org"),
            (std::vector<std::string>{"O-17=email"}));
  EXPECT_EQ(screenAstm("O|1|240612-0091||^^^GLU|R||||||N|||||Kildare DOB 07/22/1941"),
            (std::vector<std::string>{"O-17=dob.context"}));
  // HL7: OBR-16 ordering provider, ORC-21 facility, OBX-23 performing organisation.
  Document hl7 = hl7Document(
      "MSH|^~\\&|LAB|NORTHSIDE|LIS||20250611083000||ORU^R01|C1|P|2.5.1\r"
      "ORC|RE|||||||||||1234^Kildare^James|||||||||Level Seven Healthcare\r"
      "OBR|1|240612-0091||GLU||||||||||||1234^Kildare^James|+44 20 7946 0958\r"
      "OBX|1|NM|GLU||5.4|mmol/L|3.9-6.1|N|||F||||||||||||Mrs. Thistlewood Lab^L^^^^CLIA\r"
      "OBX|2|NM|NA||140|mmol/L|135-145|N|||F||||||||||||Lab 538-14-2276\r");
  EXPECT_EQ(hitList(shipped().screen(hl7, Policy::kRefuse)),
            (std::vector<std::string>{"OBR-17=phone.e164", "OBX-23=ssn.delimited"}));
  // The sending instrument's own header fields (exempt_all) stay unscreened: its serial and the
  // lab's telephone number are not a patient's.
  Document header =
      astmDocument("H|\\^&|||Bench^1.0^SN 512-48-9027|||(414) 555-0100||LIS||P|LIS2-A2\nL|1|N\n");
  EXPECT_TRUE(shipped().screen(header, Policy::kRefuse).clean());
}

TEST(PhiEvasion, TrapsWrittenWithUnicodeCharactersStillPass) {
  const std::vector<std::string> records = {
      // reference ranges with en dashes and minus signs
      // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): split only to end the \x escape
      "R|1|^^^NA|140|mmol/L|135\xE2\x80\x93"
      "145|N||F||OP17||20250611082956",
      "R|2|^^^K|4.1|mmol/L|3.5\xE2\x80\x93"
      "5.0|N||F||OP17||20250611082957",
      "R|3|^^^BE|\xE2\x88\x92"
      "1.2|mmol/L|\xE2\x88\x92"
      "2\xE2\x80\x93+2|N||F||OP17",
      // analyte and syndrome names with non-ASCII letters and dashes
      "R|4|^^^EBV|Epstein\xE2\x80\x90"
      "Barr VCA IgM negative",
      "C|1|I|Ziehl\xE2\x80\x93Neelsen stain: no acid\xE2\x80\x90"
      "fast bacilli|G",
      "C|2|I|Sj\xC3\xB6gren screen negative; Guillain\xE2\x80\x93"
      "Barr panel pending|G",
      "C|3|I|Waldenstr\xC3\xB6m macroglobulinaemia ruled out|G",
      "R|5|^^^25OHD|25\xE2\x80\x93OH vitamin D 74 nmol/L",
      // units with micro signs, degrees, superscripts
      "R|6|^^^CREA|82|\xC2\xB5mol/L|59\xE2\x80\x93"
      "104|N||F||OP17",
      "R|7|^^^WBC|6.2|\xC3\x97"
      "10\xE2\x81\xB9/L|4.0\xE2\x80\x93"
      "11.0|N||F||OP17",
      "R|8|^^^TEMP|37.0|\xC2\xB0"
      "C",
      "R|9|^^^EGFR|>90|mL/min/1.73 m\xC2\xB2",
      // lot numbers and expiry dates with Unicode dashes
      "C|4|I|LOT 2025\xE2\x80\x90"
      "0931 EXP 2025\xE2\x80\x93"
      "12\xE2\x80\x93"
      "31|G",
      "M|1|REAGENT|NA^LOT 2025\xE2\x80\x93"
      "0931^20251231",
      // 'patient mean' and other patient phrases, in any case
      "C|5|I|patient mean 5.4 mmol/L; Patient mean within 2 SD|G",
      "C|6|I|PATIENT MEAN shift \xE2\x88\x92"
      "0.3|G",
      // a lower-case "ms." is mass spectrometry, not a title
      "C|9|I|confirmed by lc-ms/ms. no interference seen|G",
      // plus signs that are not phone numbers
      "R|10|^^^DELTA|+12.5|%",
      "R|11|^^^RATIO|+1.2345678",
      "C|7|I|QC +2 SD warning, \xCE\x94 +1.5 mmol/L|G",
      // underscores in lab identifiers and field names
      "C|8|I|sample_name: QC_L1 lot_2025-0931 run_2025-06-11|G",
      "O|1|QC_L1_240612-0087||^^^GLU|R",
  };
  for (const std::string& record : records) {
    EXPECT_TRUE(screenAstm(record).empty())
        << "record " << record.substr(0, 4) << " " << ::testing::PrintToString(screenAstm(record));
  }
  // Base64 in an M record may hold '+' followed by digits: not an international number.
  EXPECT_TRUE(screenAstm("M|1|IMG|QUJD+12345678901ZGVm/+44207946095/x").empty());
}

TEST(PhiEvasion, TheFieldAsSentIsKeptAndRefuseChangesNothing) {
  const std::string text =
      "Epstein\xE2\x80\x90"
      "Barr 135\xE2\x80\x93"
      "145 \xC2\xB5mol/L";
  const std::string phi =
      "ref_219\xE2\x80\x90"
      "09\xE2\x80\x90"
      "9996";
  Document document =
      astmDocument(std::string(kHeader) + "C|1|I|" + text + "|G\nC|2|I|" + phi + "|G\nL|1|N\n");
  Screening screening = shipped().screen(document, Policy::kRefuse);
  EXPECT_EQ(hitList(screening), (std::vector<std::string>{"C-4=ssn.delimited"}));
  EXPECT_EQ(document.records[1].fields[4].text(), text);
  EXPECT_EQ(document.records[2].fields[4].text(), phi);
  // Under strip only the identifying field goes; the clean Unicode field is stored as sent.
  shipped().screen(document, Policy::kStrip);
  EXPECT_EQ(document.records[1].fields[4].text(), text);
  EXPECT_TRUE(document.records[2].fields[4].stripped());
  EXPECT_TRUE(document.records[2].fields[4].text().empty());
}

TEST(PhiEvasion, NormalisedForms) {
  EXPECT_TRUE(isAscii("plain 219-09-9996"));
  EXPECT_FALSE(isAscii("\xC2\xB5mol"));
  EXPECT_EQ(nfkcForm("a\xEF\xBC\xA0"
                     "b \xEF\xBC\x91"),
            "a@b 1");
  // ASCII is never changed by the fold (a skeleton would turn 0 into O and 1 into l).
  EXPECT_EQ(foldedForm("0O1lm rn"), "0O1lm rn");
  EXPECT_EQ(foldedForm("\xD0\x88\xD0\xBEhn"), "John");  // Cyrillic Ј, о
  EXPECT_EQ(foldedForm("\xD0\x86van"), "Ivan");         // Cyrillic І keeps its capital
  EXPECT_EQ(foldedForm("M\xC3\xBCller"), "Muller");     // accents dropped
  EXPECT_EQ(foldedForm("1\xE2\x80\x94"
                       "2\xE2\x88\x92"
                       "3"),
            "1-2-3");  // em dash, minus
  EXPECT_EQ(foldedForm("a\xE2\x80\x8B"
                       "b\xC2\xAD"
                       "c"),
            "abc");                                       // zero-width space, soft hyphen
  EXPECT_EQ(foldedForm("\xE3\x80\x80x"), " x");           // ideographic space
  EXPECT_EQ(foldedForm("\xE4\xB8\xAD"), "\xE4\xB8\xAD");  // no ASCII look-alike: kept
  EXPECT_EQ(foldedForm("ab\xFF"
                       "c"),
            "ab\xFF"
            "c");  // not UTF-8: kept as sent
  // UTF-8 read as Latin-1 is read again as UTF-8; anything else has no such form.
  EXPECT_EQ(latin1Reread("1\xC3\xA2\xC2\x80\xC2\x90"
                         "2"),
            "1\xE2\x80\x90"
            "2");
  EXPECT_EQ(latin1Reread("M\xC3\xBCller"), "");  // ü as Latin-1 is not UTF-8
  EXPECT_EQ(latin1Reread("\xD0\xA2"), "");       // above U+00FF
  EXPECT_EQ(latin1Reread("plain"), "");
}

// Pattern-file keys added for this finding: "screen_exempt" and "exempt_all".

StatusOr<PhiGate> custom(const std::string& json) { return PhiGate::fromJson(json, "custom.json"); }

TEST(PhiEvasion, ExemptFieldsRunOnlyScreenExemptPatternsAndExemptAllNone) {
  auto gate = custom(R"({"version": 1,
    "patterns": [{"id": "secret", "regex": "secret"},
                 {"id": "number", "regex": "\\d{3}-\\d{4}", "screen_exempt": true}],
    "exempt": {"astm": ["O-17"]}, "exempt_all": {"astm": ["H-5"]}})");
  ASSERT_TRUE(gate.isOk()) << gate.status().toString();
  Document document = astmDocument(
      "H|\\^&|||secret 555-0100\nO|1|||||||||||||||secret\nO|2|||||||||||||||555-0100\n"
      "C|1|I|secret|G\n");
  EXPECT_EQ(hitList(gate->screen(document, Policy::kRefuse)),
            (std::vector<std::string>{"O-17=number", "C-4=secret"}));

  auto bad = custom(R"({"version": 1,
    "patterns": [{"id": "a", "regex": "x", "screen_exempt": "yes"}]})");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().reason().find("\"screen_exempt\" must be true or false"),
            std::string::npos)
      << bad.status().reason();
  bad = custom(R"({"version": 1, "patterns": [], "exempt_all": {"astm": ["H5"]}})");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().reason().find("exempt_all.astm[0]: bad location \"H5\""),
            std::string::npos)
      << bad.status().reason();
  bad = custom(R"({"version": 1, "patterns": [],
    "allow": [{"id": "b", "regex": "y", "screen_exempt": true}]})");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().reason().find("allow[0]: screen_exempt: unknown key; known keys are"),
            std::string::npos)
      << bad.status().reason();
}

}  // namespace
}  // namespace labgate::phi
