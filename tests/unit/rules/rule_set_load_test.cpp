// Loading a rule set for a connector (rules/rule_set.h loadRuleSet): the start-up rule of issue 20
// and the shipped profiles in config/rules/. Kept apart from rule_set_test.cpp, which tests the
// file syntax and the evaluation.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "rules/rule_set.h"

namespace labgate::rules {
namespace {

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A set that is to serve a connector (loadRuleSet: labgated, --check-config, dry-run) with
// Westgard on and no QC target at all is refused, naming the key, what is missing and the two
// ways out. parseRuleSet (sets written by tests and tools) does not apply the rule.
class RuleSetLoad : public ::testing::Test {
 protected:
  void SetUp() override { path_ = ::testing::TempDir() + "labgate_rule_set_load.json"; }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string load(const std::string& json) {
    std::ofstream(path_, std::ios::binary) << json;
    auto loaded = loadRuleSet(path_);
    return loaded.isOk() ? "" : loaded.status().toString();
  }
  std::string path_;
};

TEST_F(RuleSetLoad, WestgardOnWithoutAnyTargetIsRefusedNamingWhatIsMissing) {
  const std::string explicitOn = load(R"({"version":"1","qc":{"westgard":true}})");
  EXPECT_NE(explicitOn.find(path_), std::string::npos) << explicitOn;
  EXPECT_NE(explicitOn.find("qc.westgard: qc.westgard is true"), std::string::npos) << explicitOn;
  EXPECT_NE(explicitOn.find("no analyte has qc_targets: add analytes.NAME.qc_targets (labgate "
                            "qc-targets establishes them) or set qc.westgard to false"),
            std::string::npos)
      << explicitOn;
  // Westgard is on by default: a set that does not say is refused the same way.
  EXPECT_NE(load(R"({"version":"1"})").find("qc.westgard is true (the default"), std::string::npos);
  // Per-analyte blocks without targets are not targets.
  EXPECT_NE(
      load(R"({"version":"1","analytes":{"CORT":{"limits":{"lloq":1}}}})").find("qc.westgard"),
      std::string::npos);
}

TEST_F(RuleSetLoad, WestgardWithATargetOffOrWithoutQcStarts) {
  EXPECT_EQ(
      load(R"({"version":"1","analytes":{"CORT":{"qc_targets":{"Low":{"mean":3,"sd":0.2}}}}})"),
      "");
  EXPECT_EQ(load(R"({"version":"1","qc":{"westgard":false}})"), "");
  EXPECT_EQ(load(R"({"version":"1","checks":{"qc":false}})"), "");
  // A syntax error is still the error reported.
  EXPECT_NE(load(R"({"version":"1","qc":{"rules":["2_5s"]}})").find("unknown rule"),
            std::string::npos);
  // Sets written in code (parseRuleSet) are not subject to the start-up rule.
  EXPECT_TRUE(parseRuleSet(R"({"version":"1","qc":{"westgard":true}})", "t.json").isOk());
}

// The shipped profiles: the clinical default is a template (Westgard on, no targets: no connector
// starts on it as it is); the example site and the research profile start.
TEST(ShippedRuleSets, ClinicalDefaultNeedsTargetsExampleSiteAndResearchStart) {
  const std::string dir = std::string(LABGATE_SOURCE_DIR) + "/config/rules/";
  auto clinical = loadRuleSet(dir + "lcms-default.json");
  ASSERT_FALSE(clinical.isOk());
  EXPECT_NE(clinical.status().toString().find("qc.westgard"), std::string::npos);
  auto parsed = parseRuleSet(readText(dir + "lcms-default.json"), "lcms-default.json");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed.value()->version(), "lcms-default-2");
  for (const char* name : {"example-site.json", "lcms-research.json"}) {
    auto loaded = loadRuleSet(dir + name);
    EXPECT_TRUE(loaded.isOk()) << name << ": " << loaded.status().toString();
  }
}

// What the profiles say they are: the clinical default fails closed, the research profile names
// itself, and the example site differs from the clinical profile only where it says why.
TEST(ShippedRuleSets, ProfilesSayWhatTheyAre) {
  const std::string dir = std::string(LABGATE_SOURCE_DIR) + "/config/rules/";
  auto json = [&](const std::string& name) {
    return Poco::JSON::Parser().parse(readText(dir + name)).extract<Poco::JSON::Object::Ptr>();
  };
  auto clinical = json("lcms-default.json");
  EXPECT_TRUE(clinical->getObject("qc")->getValue<bool>("westgard"));
  EXPECT_TRUE(clinical->getObject("autoverify")->getValue<bool>("hold_on_peak_warn"));
  EXPECT_TRUE(clinical->getObject("autoverify")->getValue<bool>("require_critical_limits"));
  EXPECT_FALSE(clinical->getObject("autoverify")->getValue<bool>("critical_release_and_notify"));
  EXPECT_TRUE(clinical->getObject("peak")->getValue<bool>("manual_integration_holds"));
  EXPECT_TRUE(clinical->getObject("checks")->getValue<bool>("carryover"));

  auto research = json("lcms-research.json");
  EXPECT_NE(
      research->getValue<std::string>("description").find("Research use: not for clinical release"),
      std::string::npos);

  auto site = json("example-site.json");
  EXPECT_FALSE(site->getObject("qc")->getValue<bool>("westgard"));
  EXPECT_NE(site->getValue<std::string>("description").find("Westgard off"), std::string::npos);
  for (const char* block : {"checks", "peak", "calibration", "autoverify"}) {
    std::ostringstream a, b;
    clinical->getObject(block)->stringify(a);
    site->getObject(block)->stringify(b);
    EXPECT_EQ(a.str(), b.str()) << block << " differs between the clinical profile and the site";
  }
}

}  // namespace
}  // namespace labgate::rules
