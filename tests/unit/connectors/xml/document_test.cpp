// The shared XML load and record walk (connectors/xml/document.cpp, text.cpp), exercised through
// the TargetLynx format: records per element, stripping, encodings, DOCTYPE and malformed input.
#include <gtest/gtest.h>

#include "connectors/xml/formats.h"
#include "connectors/xml/text.h"
#include "tests/unit/connectors/xml/export_loop.h"

namespace labgate::xml {
namespace {

using testing::makeFormat;
using testing::runExport;

std::shared_ptr<const ExportFormat> targetlynx() {
  return makeFormat(targetlynxXmlFormat()).value();
}

const std::string kSmall =
    "<?xml version=\"1.0\"?>\n"
    "<QUANDATASET version=\"1\">\n"
    "  <SAMPLE name=\"S-17\" type=\"Analyte\" desc=\"Jane Roe\">\n"
    "    <NOTE>  free text  </NOTE>\n"
    "    <COMPOUND name=\"Cortisol\"><PEAK area=\"12.5\" analconc=\"3.25\"/></COMPOUND>\n"
    "  </SAMPLE>\n"
    "</QUANDATASET>\n";

size_t indexOf(const Record& record, const std::string& name) {
  for (size_t i = 1; i < record.names->size(); ++i) {
    if ((*record.names)[i] == name) return i;
  }
  return 0;
}

TEST(XmlDocument, OneRecordPerElementWithAttributesThenText) {
  std::vector<Record> records;
  auto message = runExport(*targetlynx(), kSmall, {}, &records);
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  ASSERT_EQ(records.size(), 5u);
  std::vector<std::string> types;
  types.reserve(records.size());
  for (const Record& r : records) types.push_back(r.type);
  EXPECT_EQ(types, (std::vector<std::string>{"QUANDATASET", "SAMPLE", "NOTE", "COMPOUND", "PEAK"}));
  const Record& sample = records[1];
  EXPECT_EQ(sample.ordinal, 1);
  EXPECT_EQ(sample.line, 3);
  EXPECT_TRUE(sample.namesInLocation);
  EXPECT_EQ(*sample.names, (std::vector<std::string>{"", "name", "type", "desc"}));
  ASSERT_EQ(sample.fields.size(), 4u);
  EXPECT_EQ(sample.fields[3].raw(), "Jane Roe");
  EXPECT_EQ(sample.fields[3].text(), "Jane Roe");
  EXPECT_EQ(sample.location(3), "line 3 SAMPLE@desc");
  const Record& note = records[2];
  EXPECT_EQ(*note.names, (std::vector<std::string>{"", "#text"}));
  EXPECT_EQ(note.fields[1].raw(), "  free text  ");
  EXPECT_EQ(note.location(1), "line 4 NOTE#text");
  EXPECT_EQ(records[4].line, 5);
  EXPECT_EQ(records[3].names->size(), 2u);  // COMPOUND: only whitespace-free children, no text
}

TEST(XmlDocument, StrippedFieldsNeverReachTheMessage) {
  // The stand-in gate strips PEAK@analconc: the value is gone, the rest of the peak stays.
  auto stripValue = [](Record& r) {
    if (r.type == "PEAK") {
      size_t i = indexOf(r, "analconc");
      r.fields[i] = Field{"", "", true};
    }
  };
  auto message = runExport(*targetlynx(), kSmall, stripValue);
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  const Result& result = message->samples[0].results[0];
  EXPECT_EQ(result.value, "");
  EXPECT_FALSE(result.numeric.has_value());
  EXPECT_DOUBLE_EQ(*result.peak->area, 12.5);  // not stripped

  auto stripName = [](Record& r) {
    if (r.type == "SAMPLE") r.fields[indexOf(r, "name")] = Field{"", "", true};
  };
  auto refused = runExport(*targetlynx(), kSmall, stripName);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().toString(), "line 3: SAMPLE has no name");

  // A field changed but not marked stripped is not the gate's doing: the DOM keeps the file's
  // value.
  auto rewrite = [](Record& r) {
    if (r.type == "SAMPLE") r.fields[indexOf(r, "name")].setRaw("X");
  };
  auto kept = runExport(*targetlynx(), kSmall, rewrite);
  ASSERT_TRUE(kept.isOk());
  EXPECT_EQ(kept->samples[0].sampleId, "S-17");
}

TEST(XmlDocument, StrippedTextIsClearedInTheDom) {
  // Text is the last field; a layout reads the result value from element text.
  std::string xml = "<B><I><Id>A1</Id><R n=\"Na\"><V>140</V></R></I></B>";
  std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/strip_layout.json")
      << R"({"version":1,"sample":"/B/I","result":"R","fields":{"sample_id":"Id","analyte":"@n","value":"V"}})";
  auto format = makeFormat(xmlLayoutFormat(), {{"layout", "strip_layout.json"}}, dir);
  ASSERT_TRUE(format.isOk()) << format.status().toString();
  auto strip = [](Record& r) {
    if (r.type == "V") r.fields[1] = Field{"", "", true};
  };
  auto message = runExport(*format.value(), xml, strip);
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  EXPECT_EQ(message->samples[0].results[0].value, "");
}

TEST(XmlDocument, FinishRefusesUnscreenedRecords) {
  std::istringstream in(kSmall);
  auto parse = targetlynx()->open(in);
  ASSERT_TRUE(parse.isOk());
  Record record;
  ASSERT_TRUE(parse.value()->next(record).value());
  auto message = parse.value()->finish();
  ASSERT_FALSE(message.isOk());
}

TEST(XmlDocument, DoctypeIsRefused) {
  std::string xxe =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE QUANDATASET [\n<!ENTITY x SYSTEM "
      "\"file:///etc/passwd\">\n]>"
      "\n<QUANDATASET><SAMPLE name=\"&x;\" type=\"QC\"/></QUANDATASET>";
  auto message = runExport(*targetlynx(), xxe);
  ASSERT_FALSE(message.isOk());
  EXPECT_EQ(message.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(message.status().toString(), "line 2: DOCTYPE and entity declarations are refused");
  auto later = runExport(*targetlynx(), "<!-- c -->\n<?pi x?>\n<!DOCTYPE a SYSTEM \"a.dtd\"><a/>");
  ASSERT_FALSE(later.isOk());
  EXPECT_EQ(later.status().location(), "line 3");
}

TEST(XmlDocument, MalformedXmlNamesTheLine) {
  std::string bad =
      "<?xml version=\"1.0\"?>\n<QUANDATASET>\n<SAMPLE name=\"A\" type=\"QC\">\n"
      "<COMPOUND name=\"B\"></SAMPLE>\n</QUANDATASET>\n";
  auto message = runExport(*targetlynx(), bad);
  ASSERT_FALSE(message.isOk());
  EXPECT_EQ(message.status().location(), "line 4");
  EXPECT_EQ(message.status().reason(), "not well-formed XML: Start-end tags mismatch");
  auto truncated = runExport(*targetlynx(), "<QUANDATASET>\n<SAMPLE name=\"A");
  ASSERT_FALSE(truncated.isOk());
  EXPECT_EQ(truncated.status().location(), "line 2");
  auto empty = runExport(*targetlynx(), "");
  ASSERT_FALSE(empty.isOk());
}

std::string utf16(const std::string& ascii, bool bigEndian, bool bom) {
  std::string out = bom ? (bigEndian ? "\xFE\xFF" : "\xFF\xFE") : "";
  for (char c : ascii) {
    if (bigEndian) out += '\0';
    out += c;
    if (!bigEndian) out += '\0';
  }
  return out;
}

TEST(XmlDocument, ReadsUtf16AndDeclaredSingleByteEncodings) {
  std::string doc =
      "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<QUANDATASET>\n"
      "<SAMPLE name=\"S1\" type=\"QC\"/></QUANDATASET>";
  for (bool be : {false, true}) {
    for (bool bom : {false, true}) {
      auto message = runExport(*targetlynx(), utf16(doc, be, bom));
      ASSERT_TRUE(message.isOk()) << be << bom << message.status().toString();
      EXPECT_EQ(message->samples[0].sampleId, "S1");
      EXPECT_EQ(message->samples[0].location, "line 3");
    }
  }
  // "µg" in ISO-8859-1 and windows-1252 ("€" is 0x80 in windows-1252 only).
  auto latin1 = runExport(*targetlynx(),
                          "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><QUANDATASET>"
                          "<SAMPLE name=\"\xB5g\" type=\"QC\"/></QUANDATASET>");
  ASSERT_TRUE(latin1.isOk()) << latin1.status().toString();
  EXPECT_EQ(latin1->samples[0].sampleId, "\xC2\xB5g");
  auto cp1252 = runExport(*targetlynx(),
                          "<?xml version='1.0' encoding='windows-1252'?><QUANDATASET>"
                          "<SAMPLE name=\"\x80\" type=\"QC\"/></QUANDATASET>");
  ASSERT_TRUE(cp1252.isOk()) << cp1252.status().toString();
  EXPECT_EQ(cp1252->samples[0].sampleId, "\xE2\x82\xAC");
  auto bom8 =
      runExport(*targetlynx(),
                "\xEF\xBB\xBF<QUANDATASET><SAMPLE name=\"\xC2\xB5\" type=\"QC\"/></QUANDATASET>");
  ASSERT_TRUE(bom8.isOk()) << bom8.status().toString();
  EXPECT_EQ(bom8->samples[0].sampleId, "\xC2\xB5");
}

TEST(XmlDocument, RefusesUndeclaredOrUnsupportedEncodings) {
  auto undeclared =
      runExport(*targetlynx(), "<QUANDATASET>\n<SAMPLE name=\"\xB5g\" type=\"QC\"/></QUANDATASET>");
  ASSERT_FALSE(undeclared.isOk());
  EXPECT_EQ(undeclared.status().location(), "line 2");
  auto ebcdic =
      runExport(*targetlynx(), "<?xml version=\"1.0\" encoding=\"EBCDIC-US\"?><QUANDATASET/>");
  ASSERT_FALSE(ebcdic.isOk());
  EXPECT_NE(ebcdic.status().reason().find("ebcdic-us"), std::string::npos);
}

TEST(XmlText, PrologScanAndLineIndex) {
  EXPECT_EQ(scanProlog("<?xml version='1.0'?>\n<!-- <X> -->\n<?p?> <Root a='1'>").root, "Root");
  EXPECT_TRUE(scanProlog("<!DOCTYPE r><r/>").doctype);
  EXPECT_EQ(scanProlog("<?xml").root, "");
  LineIndex lines("a\nbc\n\nd");
  EXPECT_EQ(lines.lineAt(0), 1);
  EXPECT_EQ(lines.lineAt(1), 1);
  EXPECT_EQ(lines.lineAt(2), 2);
  EXPECT_EQ(lines.lineAt(6), 4);
}

}  // namespace
}  // namespace labgate::xml
