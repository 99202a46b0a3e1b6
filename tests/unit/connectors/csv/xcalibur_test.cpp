// Thermo Xcalibur XLS: recognised by signature and refused with a clear message. Also the
// detection check of the SCIEX, Skyline, TASQ, TargetLynx TXT and Xcalibur detectors against every
// file of the shared LC-MS corpus: each file is claimed by exactly the expected one, or by none.
#include "connectors/csv/xcalibur.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "connectors/csv/formats.h"
#include "tests/unit/connectors/csv/export_test_util.h"

namespace labgate::csv {
namespace {

using labgate::testing::detectFile;
using labgate::testing::parseExportFile;
using labgate::testing::parseExportText;
using labgate::testing::RecordLog;
using labgate::testing::sharedPath;

const std::string kOle2("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);

TEST(XcaliburXlsFormat, CorpusWorkbooksAreRecognisedAndRefused) {
  for (const char* name : {"p2m2tools_data.test2.XLS", "p2m2tools_resuts_inj1_Long.XLS",
                           "p2m2tools_test_big_number_10.XLS"}) {
    std::string path = sharedPath(std::string("corpus/lcms/thermo_xcalibur/") + name);
    if (path.empty()) GTEST_SKIP() << "shared corpus not available";
    EXPECT_TRUE(detectFile(xcaliburXlsFormat(), path)) << name;
    RecordLog records;
    StatusOr<Message> m = parseExportFile(xcaliburXlsFormat(), path, {}, &records);
    ASSERT_FALSE(m.isOk()) << name;
    EXPECT_EQ(m.status().code(), Status::Code::kInvalid);
    EXPECT_EQ(m.status().location(), "line 1");
    EXPECT_EQ(m.status().reason(), kXcaliburRefusal);
    EXPECT_TRUE(records.empty());  // nothing of the workbook reaches anyone
  }
}

TEST(XcaliburXlsFormat, SyntheticHeader) {
  std::string head = kOle2 + std::string(504, '\0') + "Component Name" + std::string(8, '\0') +
                     "Filename" + std::string(4, '\0');
  EXPECT_TRUE(looksLikeXcaliburXls(head));
  StatusOr<Message> m = parseExportText(xcaliburXlsFormat(), head);
  ASSERT_FALSE(m.isOk());
  EXPECT_NE(m.status().reason().find("export the Quan Browser results as CSV"), std::string::npos);
  EXPECT_NE(m.status().reason().find("format \"layout\""), std::string::npos);
  // An OLE2 file that is not an Xcalibur result workbook (a Word document, another workbook) is
  // not claimed; neither is text that merely names the columns.
  EXPECT_FALSE(looksLikeXcaliburXls(kOle2 + std::string(504, '\0')));
  EXPECT_FALSE(looksLikeXcaliburXls("Component Name\tFilename\r\n"));
  EXPECT_FALSE(looksLikeXcaliburXls(kOle2.substr(0, 4)));
}

TEST(XcaliburXlsFormat, RejectsBadCommonKeys) {
  ExportSettings s;
  s.keyPrefix = "connector.x.";
  s.keys = {{"decimal", "sometimes"}};
  EXPECT_FALSE(xcaliburXlsFormat().factory(s).isOk());
}

/// Which of this group's formats claims each corpus file ("" = none of them).
TEST(VendorDetection, EveryCorpusFileIsClaimedByTheExpectedFormatOnly) {
  std::string root = sharedPath("corpus/lcms/SOURCES.md");
  if (root.empty()) GTEST_SKIP() << "shared corpus not available";
  root = std::filesystem::path(root).parent_path().string();
  const std::vector<ExportFormatInfo> formats = {sciexFormat(), skylineFormat(), tasqFormat(),
                                                 targetlynxTxtFormat(), xcaliburXlsFormat()};
  const std::map<std::string, std::string> expectedByFolder = {
      {"masshunter_quant", ""}, {"sciex_multiquant", "sciex"},       {"skyline", "skyline"},
      {"bruker_tasq", "tasq"},  {"thermo_xcalibur", "xcalibur-xls"}, {"waters_targetlynx", ""}};
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().filename() == "SOURCES.md") continue;
    std::string folder = entry.path().parent_path().filename().string();
    std::string ext = entry.path().extension().string();
    auto it = expectedByFolder.find(folder);
    ASSERT_NE(it, expectedByFolder.end()) << "new corpus folder " << folder;
    std::string expected = it->second;
    if (folder == "waters_targetlynx" && ext != ".xml") expected = "targetlynx-txt";
    std::string claimedBy;
    int claims = 0;
    for (const ExportFormatInfo& f : formats) {
      if (detectFile(f, entry.path().string())) {
        ++claims;
        claimedBy = f.name;
      }
    }
    EXPECT_LE(claims, 1) << entry.path();
    EXPECT_EQ(claimedBy, expected) << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 37u);
}

}  // namespace
}  // namespace labgate::csv
