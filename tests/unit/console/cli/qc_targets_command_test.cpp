// labgate qc-targets on a real store: QC values committed as the engine commits them, targets
// established per analyte, level and lot, provisional below 20 values.
#include "console/cli/qc_targets_command.h"

#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <sstream>

#include "engine/store/audit.h"
#include "engine/store/store.h"

namespace labgate::cli {
namespace {

class QcTargetsCommand : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = Poco::TemporaryFile::tempName(); }
  void TearDown() override {
    if (Poco::File(dir_).exists()) Poco::File(dir_).remove(true);
  }

  void commitBatch(int n, double low, double high) {
    auto store = Store::open(dir_);
    ASSERT_TRUE(store.isOk()) << store.status().toString();
    InboundCommit c;
    c.connector = "lcms1";
    c.instrument = "qqq-01";
    c.format = "masshunter";
    c.peer = "file-drop";
    c.receivedAt = isoNow();
    c.contentSha256 = sha256Hex(std::to_string(n));
    c.message.controlId = "B" + std::to_string(n);
    QcValue l{"CORT", "Low", "L1", "QCL", 1, low, std::nullopt, std::nullopt, false, false, 0};
    QcValue h{"CORT", "High", "", "QCH", 2, high, std::nullopt, std::nullopt, false, false, 0};
    c.message.qcValues = {l, h};
    ASSERT_TRUE(store.value()->commitInbound(c).isOk());
  }

  int run(const std::vector<std::string>& args) {
    out_.str("");
    err_.str("");
    return runQcTargets(args, out_, err_);
  }

  std::string dir_;
  std::ostringstream out_, err_;
};

TEST_F(QcTargetsCommand, EstablishesMeanAndSdPerLevelAndLot) {
  // 20 runs: low alternates 2.9/3.1 (mean 3, SD ~0.1026), high is 80 + a spread.
  for (int i = 0; i < 20; ++i) commitBatch(i, i % 2 ? 3.1 : 2.9, 78.0 + (i % 5));
  ASSERT_EQ(run({"--data-dir", dir_, "--instrument", "qqq-01"}), 0) << err_.str();
  auto root = Poco::JSON::Parser().parse(out_.str()).extract<Poco::JSON::Object::Ptr>();
  auto targets = root->getObject("analytes")->getObject("CORT")->getObject("qc_targets");
  auto low = targets->getObject("Low");
  EXPECT_NEAR(low->getValue<double>("mean"), 3.0, 1e-12);
  EXPECT_NEAR(low->getValue<double>("sd"), 0.1025978352085154, 1e-12);
  EXPECT_EQ(low->getValue<std::string>("lot"), "L1");
  EXPECT_FALSE(low->getValue<bool>("provisional"));
  EXPECT_NEAR(targets->getObject("High")->getValue<double>("mean"), 80.0, 1e-12);
  EXPECT_NE(err_.str().find("CORT Low lot L1: n=20"), std::string::npos) << err_.str();
}

TEST_F(QcTargetsCommand, FewerThanTwentyValuesAreProvisionalAndErrorsAreClear) {
  for (int i = 0; i < 5; ++i) commitBatch(i, 3.0 + 0.01 * i, 80);
  ASSERT_EQ(run({"--data-dir", dir_, "--instrument", "qqq-01", "--analyte", "CORT"}), 0);
  EXPECT_NE(out_.str().find("\"provisional\": true"), std::string::npos) << out_.str();
  EXPECT_EQ(out_.str().find("High"), std::string::npos) << "a level without spread gets no target";
  EXPECT_NE(err_.str().find("CORT High: n=5: no spread"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"--data-dir", dir_, "--instrument", "other"}), 1);
  EXPECT_NE(err_.str().find("no QC values"), std::string::npos);
  EXPECT_EQ(run({"--instrument", "qqq-01"}), 2);
  EXPECT_EQ(run({"--data-dir", dir_, "--instrument", "qqq-01", "--batches", "0"}), 2);
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(out_.str().find("usage: labgate qc-targets"), std::string::npos);
}

}  // namespace
}  // namespace labgate::cli
