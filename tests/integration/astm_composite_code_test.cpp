// Composite ASTM test codes through the real labgated: a GeneXpert-shaped message (custom
// delimiters H|@^\, one test id per assay, the analyte in R-3 components 7 and 8) on a connector
// with astm.test_code_components = 2,4,7,8 gives each result its own instrument code, which a
// mapping set maps to distinct LIS codes. The mapping set is an Excel "Unicode text" save
// (UTF-16 LE with a BOM, tab-separated), so the spreadsheet-on-disk workflow reads it as well.
// The message is our own; no corpus file is copied.
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

class AstmCompositeCodeTest : public EngineTest {};

// UTF-16 LE with a BOM, as Excel's "Unicode text" writes it (ASCII input only).
std::string utf16le(const std::string& ascii) {
  std::string out = "\xFF\xFE";
  for (char c : ascii) {
    out.push_back(c);
    out.push_back('\0');
  }
  return out;
}

std::vector<std::string> geneXpertMessage(const std::string& sampleId) {
  return {
      "H|@^\\|||Xpert|||||||P|1394-97",
      "O|1|" + sampleId + "||^^^MTB-RIF|R",
      "R|1|^MTB-RIF^^Xpert^Xpert MTB-RIF Ultra^4^MTB^|NOT DETECTED^|||||F",
      "R|2|^MTB-RIF^^Xpert^^^rpoB1^Ct|^0.0|||||F",
      "R|3|^MTB-RIF^^Xpert^^^rpoB1^EndPt|^-2.0|||||F",
      "L|1|N",
  };
}

TEST_F(AstmCompositeCodeTest, GeneXpertResultsGetOneCodeEachAndReachTheLis) {
  const std::string mappings = tmp_->file("genexpert.txt");
  writeFile(mappings,
            utf16le("instrument_code\tlis_code\tlis_name\tunits\tdecimals\r\n"
                    "MTB-RIF/Xpert/MTB\tXPMTB\tMTB detected\t\t\r\n"
                    "MTB-RIF/Xpert/rpoB1/Ct\tXPRB1CT\trpoB1 probe Ct\t\t1\r\n"
                    "MTB-RIF/Xpert/rpoB1/EndPt\tXPRB1EP\trpoB1 probe end point\t\t1\r\n"));
  ConnectorConfig& xpert = config_.connectors.at(0);
  xpert.mappings = mappings;
  xpert.extra["astm.test_code_components"] = "2,4,7,8";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const std::string sample = newSampleId("GX");
  AstmInstrument instrument(astmPort());
  Transfer t = instrument.sendSession(geneXpertMessage(sample));
  ASSERT_TRUE(t.complete) << "frame " << t.replies.size() << " answered "
                          << astm::replyName(t.finalReply);

  ASSERT_TRUE(waitForSample(sample)) << "no ORU reached the LIS: a result was held (unmapped?)";
  const auto messages = lis_->messages();
  ASSERT_EQ(messages.size(), 1u);
  const auto obx = observations(messages[0]);
  ASSERT_EQ(obx.size(), 3u) << "one OBX per result";
  EXPECT_EQ(obx[0].code, "XPMTB");
  EXPECT_EQ(obx[0].value, "NOT DETECTED");
  EXPECT_EQ(obx[1].code, "XPRB1CT");
  EXPECT_EQ(obx[1].name, "rpoB1 probe Ct");
  EXPECT_EQ(obx[1].value, "0.0");
  EXPECT_EQ(obx[2].code, "XPRB1EP");
  EXPECT_EQ(obx[2].value, "-2.0");

  // The stored instrument codes are the composite ones.
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  StoreReader store(config_.dataDir + "/labgate.db");
  EXPECT_EQ(store
                .scalar("SELECT group_concat(instrument_code, ' ') FROM (SELECT instrument_code "
                        "FROM results ORDER BY id);")
                .value_or(""),
            "MTB-RIF/Xpert/MTB MTB-RIF/Xpert/rpoB1/Ct MTB-RIF/Xpert/rpoB1/EndPt");
}

}  // namespace
}  // namespace labgate::it
