// TargetLynx XML: the public sample export (corpus), an invented file with standards, QC, an
// internal standard and missing values, and signature detection.
#include <gtest/gtest.h>

#include <filesystem>

#include "connectors/xml/formats.h"
#include "tests/unit/connectors/xml/export_loop.h"

namespace labgate::xml {
namespace {

using testing::makeFormat;
using testing::readFile;
using testing::runExport;
using testing::testData;

const std::string kCorpus =
    std::string(LABGATE_SHARED_DIR) + "/corpus/lcms/waters_targetlynx/p2m2tools_quandata.xml";

std::shared_ptr<const ExportFormat> targetlynx() {
  auto format = makeFormat(targetlynxXmlFormat());
  EXPECT_TRUE(format.isOk()) << format.status().toString();
  return format.value();
}

const Result* find(const Sample& sample, const std::string& code) {
  for (const Result& r : sample.results) {
    if (r.instrumentCode == code) return &r;
  }
  return nullptr;
}

TEST(TargetLynxXml, CorpusQuandataGivesOneAnalyteSampleWithSixCompounds) {
  if (!std::filesystem::exists(kCorpus)) GTEST_SKIP() << "corpus not present: " << kCorpus;
  std::vector<Record> records;
  auto message = runExport(*targetlynx(), readFile(kCorpus), {}, &records);
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  // 8 container elements + SAMPLE's USERDATA + 6 x (COMPOUND PEAK ISPEAK METHOD USERDATA).
  EXPECT_EQ(records.size(), 39u);
  EXPECT_EQ(message->sender, "Waters TargetLynx");
  EXPECT_EQ(message->version, "1");
  EXPECT_EQ(message->sentAt, "2022-06-09T13:48:43");
  ASSERT_EQ(message->samples.size(), 1u);
  const Sample& s = message->samples[0];
  EXPECT_EQ(s.sampleId, "130522_Std290920_96_Inj01");
  EXPECT_EQ(s.dataFile, "130522_Std290920_96_Inj01");
  EXPECT_EQ(s.kind, SampleKind::kUnknown);  // type="Analyte"
  EXPECT_EQ(s.position, "1:A,2");
  EXPECT_EQ(s.acquiredAt, "2022-05-13T10:38:48");  // createdate="13-May-22" createtime="10:38:48"
  EXPECT_FALSE(s.dilution.has_value());            // dilutionfac="0.0000000000": unset
  EXPECT_FALSE(s.nominalConcentration.has_value());
  EXPECT_EQ(s.location, "line 2");  // the export is one long line after the declaration
  EXPECT_EQ(s.injection, 1);        // samplenumber="1"
  EXPECT_FALSE(message->listedInRunOrder);
  EXPECT_TRUE(message->curves.empty());  // this export has no CALIBRATIONDATA
  ASSERT_EQ(s.results.size(), 6u);
  std::vector<std::string> codes;
  for (const Result& r : s.results) codes.push_back(r.instrumentCode);
  EXPECT_EQ(codes, (std::vector<std::string>{"CAT", "EC", "PLZ", "CAT_MS", "EC_MS", "PLZ_MS"}));

  const Result* cat = find(s, "CAT");
  ASSERT_TRUE(cat && cat->peak);
  EXPECT_EQ(cat->value, "0.0000000000");
  EXPECT_EQ(cat->numeric, 0.0);
  EXPECT_DOUBLE_EQ(*cat->peak->retentionTime, 4.1999998093);
  EXPECT_DOUBLE_EQ(*cat->peak->expectedRetentionTime, 4.2899999619);
  EXPECT_DOUBLE_EQ(*cat->peak->area, 1728.543);
  EXPECT_DOUBLE_EQ(*cat->peak->height, 29605.0);
  EXPECT_DOUBLE_EQ(*cat->peak->signalToNoise, 15266.1408413233);
  EXPECT_DOUBLE_EQ(*cat->peak->width, 3.376);
  EXPECT_DOUBLE_EQ(*cat->peak->asymmetry, 1.8650000095);
  EXPECT_DOUBLE_EQ(*cat->peak->responseRatio, 1728.543);
  // Issue 20: pkflags is the integration code (routine), not a vendor flag.
  EXPECT_EQ(cat->peak->integrationCode, "MM");
  EXPECT_EQ(cat->peak->vendorFlags, "");
  EXPECT_TRUE(cat->peak->manualIntegration);
  EXPECT_FALSE(cat->peak->accuracy.has_value());  // no nominal: stdconc 0
  EXPECT_FALSE(cat->peak->expectedConcentration.has_value());
  EXPECT_FALSE(cat->peak->internalStandardArea.has_value());  // ISPEAK area=""
  EXPECT_TRUE(cat->peak->internalStandard.empty());

  const Result* ec = find(s, "EC");
  ASSERT_TRUE(ec && ec->peak);
  EXPECT_EQ(ec->peak->integrationCode, "bb");
  EXPECT_EQ(ec->peak->vendorFlags, "");
  EXPECT_FALSE(ec->peak->manualIntegration);
  EXPECT_DOUBLE_EQ(*ec->peak->area, 1574.581);

  const Result* plzMs = find(s, "PLZ_MS");
  ASSERT_TRUE(plzMs && plzMs->peak);
  EXPECT_DOUBLE_EQ(*plzMs->peak->area, 979674.938);
  EXPECT_DOUBLE_EQ(*plzMs->peak->retentionTime, 16.5939006805);
  EXPECT_TRUE(plzMs->peak->manualIntegration);
  for (const Result& r : s.results) EXPECT_FALSE(r.internalStandard) << r.instrumentCode;

  // Records: element names as types, attribute names, locations naming markup only.
  EXPECT_EQ(records[0].type, "QUANDATASET");
  EXPECT_EQ(records[7].type, "SAMPLE");
  const Record& peak = records[9];
  ASSERT_EQ(peak.type, "PEAK");
  ASSERT_TRUE(peak.names);
  size_t area = 0;
  for (size_t i = 1; i < peak.names->size(); ++i) {
    if ((*peak.names)[i] == "area") area = i;
  }
  ASSERT_GT(area, 0u);
  EXPECT_EQ(peak.fields[area].raw(), "1728.5430000000");
  EXPECT_EQ(peak.location(area), "line 2 PEAK@area");
}

TEST(TargetLynxXml, InventedBatchWithStandardsQcInternalStandardAndMissingValues) {
  std::vector<Record> records;
  auto message = runExport(*targetlynx(), testData("targetlynx_small.xml"), {}, &records);
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  EXPECT_EQ(message->sentAt, "2024-02-02T09:15:00");
  ASSERT_EQ(message->samples.size(), 4u);

  const Sample& cal = message->samples[0];
  EXPECT_EQ(cal.sampleId, "B7_CAL3");
  EXPECT_EQ(cal.kind, SampleKind::kCalibrator);
  EXPECT_EQ(cal.nominalConcentration, 5.0);
  EXPECT_EQ(cal.position, "1:A,3");
  EXPECT_EQ(cal.acquiredAt, "2024-02-01T22:10:05");
  EXPECT_EQ(cal.location, "line 9");
  EXPECT_EQ(cal.injection, 12);  // samplenumber: the sample-list row (issue 20)
  ASSERT_EQ(cal.results.size(), 2u);
  const Result& testo = cal.results[0];
  EXPECT_EQ(testo.location, "line 11");
  EXPECT_FALSE(testo.internalStandard);
  EXPECT_EQ(testo.value, "5.2000000000");
  ASSERT_TRUE(testo.peak);
  EXPECT_DOUBLE_EQ(*testo.peak->calculatedConcentration, 5.2);
  EXPECT_DOUBLE_EQ(*testo.peak->expectedConcentration, 5.0);
  EXPECT_DOUBLE_EQ(*testo.peak->accuracy, 104.0);  // 100 + concdevperc
  EXPECT_DOUBLE_EQ(*testo.peak->responseRatio, 0.525);
  EXPECT_DOUBLE_EQ(*testo.peak->ionRatio, 0.45);
  EXPECT_DOUBLE_EQ(*testo.peak->internalStandardArea, 20000.0);
  EXPECT_DOUBLE_EQ(*testo.peak->internalStandardRt, 3.4000000954);
  EXPECT_EQ(testo.peak->internalStandard, "Testosterone-d3");
  EXPECT_FALSE(testo.peak->manualIntegration);
  // pkflags="bdX" on a calibrator: integration code "bd", excluded from the curve, no flag.
  EXPECT_EQ(testo.peak->integrationCode, "bd");
  EXPECT_TRUE(testo.peak->excludedFromCurve);
  EXPECT_EQ(testo.peak->vendorFlags, "");
  const Result& d3 = cal.results[1];
  EXPECT_TRUE(d3.internalStandard);  // its peak is Testosterone's ISPEAK
  EXPECT_EQ(d3.value, "NaN");
  EXPECT_FALSE(d3.numeric.has_value());
  EXPECT_FALSE(d3.peak->accuracy.has_value());

  const Sample& qc = message->samples[1];
  EXPECT_EQ(qc.kind, SampleKind::kQc);
  EXPECT_EQ(qc.dilution, 2.0);
  ASSERT_EQ(qc.results.size(), 1u);
  EXPECT_DOUBLE_EQ(*qc.results[0].peak->accuracy, 95.0);
  EXPECT_TRUE(qc.results[0].peak->manualIntegration);  // pkflags="MM"
  EXPECT_EQ(qc.results[0].peak->integrationCode, "MM");
  EXPECT_EQ(qc.injection, 3);
  EXPECT_FALSE(qc.results[0].peak->signalToNoise.has_value());  // "N/A"
  EXPECT_TRUE(qc.results[0].peak->internalStandard.empty());    // no compound has that peak

  const Sample& patient = message->samples[2];
  EXPECT_EQ(patient.kind, SampleKind::kUnknown);
  EXPECT_TRUE(patient.results[0].peak->manualIntegration);  // pkflags="bM": end placed by hand
  EXPECT_EQ(patient.results[0].peak->integrationCode, "bM");
  // A raised QC flag attribute is a vendor flag; 0 is none, and belowrl is not a flag.
  EXPECT_EQ(patient.results[0].peak->vendorFlags, "rtflag=1");
  EXPECT_EQ(patient.injection, 5);
  EXPECT_FALSE(patient.results[0].peak->accuracy.has_value());

  const Sample& blank = message->samples[3];
  EXPECT_EQ(blank.kind, SampleKind::kBlank);
  EXPECT_EQ(blank.acquiredAt, "");
  EXPECT_FALSE(blank.injection.has_value());  // no samplenumber
  const Peak& none = *blank.results[0].peak;
  EXPECT_FALSE(none.retentionTime.has_value());
  EXPECT_FALSE(none.area.has_value());
  EXPECT_FALSE(none.height.has_value());
  EXPECT_FALSE(blank.results[0].numeric.has_value());
}

TEST(TargetLynxXml, DetectsQuandatasetRootInUtf8AndUtf16Heads) {
  ExportFormatInfo info = targetlynxXmlFormat();
  EXPECT_TRUE(info.detect("<?xml version=\"1.0\"?>\r\n<QUANDATASET description=\"\">"));
  EXPECT_TRUE(info.detect("\xEF\xBB\xBF<!-- x --><QUANDATASET>"));
  EXPECT_TRUE(info.detect("<QUANDATASET/>"));
  EXPECT_FALSE(info.detect("<?xml version=\"1.0\"?><QUANDATASETS>"));
  EXPECT_FALSE(info.detect("<?xml version=\"1.0\"?><Batch>"));
  EXPECT_FALSE(info.detect("Sample,Name,Type\n"));
  std::string ascii = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<QUANDATASET version=\"1\">";
  std::string le = "\xFF\xFE", be = "\xFE\xFF";
  for (char c : ascii) {
    le += c, le += '\0';
    be += '\0', be += c;
  }
  EXPECT_TRUE(info.detect(le));
  EXPECT_TRUE(info.detect(be));
  EXPECT_TRUE(info.detect(le.substr(2)));  // no BOM
  if (std::filesystem::exists(kCorpus)) {
    EXPECT_TRUE(info.detect(readFile(kCorpus).substr(0, 65536)));
  }
  ExportFormats formats;
  registerXmlFormats(formats);
  ASSERT_NE(formats.detect("<QUANDATASET>"), nullptr);
  EXPECT_EQ(formats.detect("<QUANDATASET>")->name, "targetlynx-xml");
}

TEST(TargetLynxXml, RefusesAFileWithoutSamplesOrWithAnUnknownSampleType) {
  auto empty = runExport(*targetlynx(), "<QUANDATASET version=\"1\"><GROUPDATA/></QUANDATASET>");
  ASSERT_FALSE(empty.isOk());
  EXPECT_EQ(empty.status().reason(), "no SAMPLE elements");
  auto odd = runExport(*targetlynx(),
                       "<QUANDATASET>\n<SAMPLE name=\"A1\" type=\"Mystery\"/></QUANDATASET>");
  ASSERT_FALSE(odd.isOk());
  EXPECT_EQ(odd.status().location(), "line 2");
  EXPECT_EQ(odd.status().reason().find("Mystery"), std::string::npos);
  auto other = runExport(*targetlynx(), "<Batch><SAMPLE name=\"A1\" type=\"QC\"/></Batch>");
  ASSERT_FALSE(other.isOk());
  EXPECT_EQ(other.status().reason(), "the root element is not QUANDATASET");
}

}  // namespace
}  // namespace labgate::xml
