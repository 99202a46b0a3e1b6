// labgate dry-run on the corpus clinical batch (mrmhub_MH_ext_cal_quant_assay.csv, read from
// ../shared at run time; skipped without it): the curve judged is the lab's. Corticosterone's
// vendor accuracies (Cal F 97.6 %, Cal B 80.7 %) come from a quadratic 1/x² fit; a linear 1/x²
// refit puts Cal F at 112.7 %. The engine says which model it judged and where that came from,
// and flags the bend (CAL_NONLINEAR) when it judges a line. The same checks run on a small
// MassHunter batch of our own (tests/data/rules/bent_curve_masshunter.csv: an exact quadratic,
// response 0.1·x·(1 − 0.004·x)), which needs no ../shared.
#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "console/cli/dry_run_command.h"
#include "server/plugins.h"

namespace labgate::cli {
namespace {

const std::string kOwnBatch =
    std::string(LABGATE_TEST_DATA_DIR) + "/rules/bent_curve_masshunter.csv";
const std::string kBatch = std::string(LABGATE_SHARED_DIR) +
                           "/corpus/lcms/masshunter_quant/mrmhub_MH_ext_cal_quant_assay.csv";

class DryRunCalibration : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    Poco::File(dir_).createDirectories();
    registerPlugins(registry_);
  }
  void TearDown() override {
    if (!dir_.empty()) Poco::File(dir_).remove(true);
  }

  /// `file` through dry-run with `rules` as the connector's rule set: its batch findings for
  /// `analyte`, "CODE: message" each.
  std::vector<std::string> findingsOf(const std::string& file, const std::string& analyte,
                                      const std::string& rules) {
    std::ofstream(dir_ + "/rules.json") << rules;
    std::string config = "data.dir = " + dir_ + "/data\nhttp.listen = 127.0.0.1:18481\n";
    config += "phi.patterns = " + std::string(LABGATE_SOURCE_DIR) + "/config/phi-patterns.json\n";
    config += "connectors = quant1\nconnector.quant1.kind = file-drop\n";
    config += "connector.quant1.inbox = " + dir_ + "/inbox\nconnector.quant1.pattern = *\n";
    config += "connector.quant1.format = auto\nconnector.quant1.destinations = lis\n";
    config += "connector.quant1.mappings = " + std::string(LABGATE_SOURCE_DIR) +
              "/config/mappings/example-lcmsms.csv\n";
    config += "connector.quant1.rules = " + dir_ + "/rules.json\n";
    config += "destinations = lis\ndestination.lis.kind = hl7-mllp\n";
    config += "destination.lis.host = 127.0.0.1\ndestination.lis.port = 2575\n";
    std::ofstream(dir_ + "/labgate.properties") << config;
    std::ostringstream out, err;
    EXPECT_EQ(runDryRun({"--config", dir_ + "/labgate.properties", "--connector", "quant1", file},
                        out, err, registry_),
              0)
        << err.str();
    std::vector<std::string> findings;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) {
      auto o = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
      auto batch = o->getArray("batch_findings");
      for (size_t i = 0; batch && i < batch->size(); ++i) {
        auto f = batch->getObject(static_cast<unsigned>(i));
        if (f->optValue<std::string>("analyte", "") == analyte) {
          findings.push_back(f->getValue<std::string>("message"));
        }
      }
    }
    return findings;
  }

  std::vector<std::string> corticosterone(const std::string& rules) {
    return findingsOf(kBatch, "Corticosterone", rules);
  }

  static bool haveCorpus() { return static_cast<bool>(std::ifstream(kBatch)); }

  static std::string find(const std::vector<std::string>& findings, const std::string& code) {
    for (const std::string& f : findings) {
      if (f.rfind(code + ":", 0) == 0) return f;
    }
    return {};
  }

  std::string dir_;
  Registry registry_;
};

TEST_F(DryRunCalibration, OurOwnBentBatchIsJudgedWithTheLabsModel) {
  auto linear = findingsOf(kOwnBatch, "Testosterone", R"({"version":"l","qc":{"westgard":false}})");
  const std::string curve = find(linear, "CAL_CURVE");
  EXPECT_NE(curve.find("FAIL (linear, 1/x², from the rule set's default)"), std::string::npos)
      << curve;
  EXPECT_FALSE(find(linear, "CAL_NONLINEAR").empty());
  auto quadratic = findingsOf(kOwnBatch, "Testosterone", R"({"version":"q","qc":{"westgard":false},
    "analytes":{"Testosterone":{"calibration":{"model":"quadratic"}}}})");
  EXPECT_TRUE(find(quadratic, "CAL_CURVE").empty()) << "the curve passes: no finding";
  EXPECT_TRUE(find(quadratic, "CAL_ACCURACY").empty());
  EXPECT_TRUE(find(quadratic, "CAL_NONLINEAR").empty());
}

TEST_F(DryRunCalibration, ALinearRefitOfTheCorticosteroneCurveIsFlaggedAsBent) {
  if (!haveCorpus()) GTEST_SKIP() << kBatch << " not found (../shared missing)";
  auto findings = corticosterone(R"({"version":"lin","qc":{"westgard":false}})");
  const std::string curve = find(findings, "CAL_CURVE");
  EXPECT_NE(curve.find("(linear, 1/x², from the rule set's default)"), std::string::npos) << curve;
  const std::string bent = find(findings, "CAL_NONLINEAR");
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(bent, m, std::regex("back-calculates to ([0-9.]+)% instead of ([0-9.]+)%")))
      << bent;
  EXPECT_NEAR(std::stod(m[1]), 97.6, 0.5) << "the vendor's quadratic accuracy of Cal F";
  EXPECT_NEAR(std::stod(m[2]), 112.7, 0.5) << "Cal F on a line";
}

TEST_F(DryRunCalibration, JudgedWithTheLabsQuadraticTheAccuraciesAreTheVendors) {
  if (!haveCorpus()) GTEST_SKIP() << kBatch << " not found (../shared missing)";
  auto findings = corticosterone(R"({"version":"quad","qc":{"westgard":false},
    "analytes":{"Corticosterone":{"calibration":{"model":"quadratic","weight":"1/x^2"}}}})");
  const std::string curve = find(findings, "CAL_CURVE");
  EXPECT_NE(
      curve.find("(quadratic, 1/x², from the rule set (analytes.Corticosterone.calibration))"),
      std::string::npos)
      << curve;
  // Cal B at the vendor's 80.7 % is the one calibrator outside 85–115 %: 5 of 6 levels pass.
  EXPECT_NE(curve.find("5 concentration levels have a passing calibrator, at least 6 are needed"),
            std::string::npos)
      << curve;
  const std::string calB = find(findings, "CAL_ACCURACY");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(calB, m, std::regex("Cal B at .* back-calculates to ([0-9.]+)%")))
      << calB;
  EXPECT_NEAR(std::stod(m[1]), 80.7, 0.05);
  EXPECT_TRUE(find(findings, "CAL_NONLINEAR").empty()) << "a quadratic is not flagged as bent";
}

}  // namespace
}  // namespace labgate::cli
