// Issue 19: QC trends through the real engine. Four MassHunter batches of our own go through a
// watched folder; each has two Low QCs (target 3.0, SD 0.1) around one patient. Batch 1 sits on
// target (z 0), batches 2-4 at 3.09 (z +0.9): inside every Westgard limit (no value beyond 1 SD,
// fewer than 10 on one side), so Westgard rejects nothing, while the trends see the slow shift.
//
// The rule set's trends on the z-scores, by hand:
//   CUSUM (k 0.5, h 2, action hold): SH = 0, 0 | 0.4, 0.8 | 1.2, 1.6 | 2.0, 2.4 → the first value
//   above h is batch 4's second QC (2.4 > 2); SH was last 0 in batch 1, so "high since" batch 2.
//   EWMA (lambda 0.5, L 1.5, exact limits, action warn): E = 0, 0 | 0.45, 0.675 | 0.7875,
//   0.84375 | 0.871875 … with the limit 1.5·sqrt(1/3·(1 − 0.25^i)) = 0.8646 (i 6), 0.8660 (i 7):
//   batch 3 stays inside (0.84375 < 0.8646), batch 4's first QC is above (0.871875 > 0.8660).
// So batch 4 carries QC_TREND_EWMA (a note: its patient is not held for it) and QC_TREND_CUSUM
// (held, as this rule set asks); batches 1-3 carry neither. /metrics shows
// labgate_qc_trend_signal at 1 for both methods, and GET /api/v1/instruments/tq-01/health shows
// the state and the signal with batch 4's id.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/integration/accounts_test_support.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"
#include "tests/integration/harness_store.h"

namespace labgate::it {
namespace {

using namespace std::chrono_literals;

class QcTrendTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    ConnectorConfig& drop = config_.connectors.at(0);
    drop.name = "lcms1";
    drop.kind = "file-drop";
    drop.mappings = testDataDir() + "/exports/mappings-lcms.csv";
    inbox_ = tmp_->file("inbox");
    std::filesystem::create_directories(inbox_);
    // QC (Westgard on, the default rules) and the trends decide; peaks, the curve and the
    // diagnostics are off, the measuring range is the rule set's.
    const std::string rules = tmp_->file("rules.json");
    writeFile(rules, R"({"version":"qc-trend-test",
      "checks":{"peaks":false,"calibration":false,"diagnostics":false,"trends":false,
                "carryover":false},
      "qc":{"westgard":true,
            "ewma":{"enabled":true,"lambda":0.5,"width":1.5},
            "cusum":{"enabled":true,"k":0.5,"h":2,"action":"hold"}},
      "limits":{"lloq":0.5,"uloq":50},
      "analytes":{"Cortisol":{"qc_targets":{"Low":{"mean":3.0,"sd":0.1}}}},
      "autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false}})");
    drop.extra = {{"inbox", inbox_}, {"poll_ms", "100"}, {"settle_ms", "300"}, {"rules", rules}};
    config_.omit("connector.lcms1.listen");
    config_.omit("connector.lcms1.astm.receive_timeout_seconds");
  }

  /// Batch `n` (1-based): QC, patient P<n>, QC, the QCs at `qc`.
  static std::string batch(int n, const std::string& qc) {
    const std::string day = std::to_string(n + 9);
    return "Sample,,,,,Cortisol Results,,,,\n"
           "Name,Data File,Type,Level,Acq. Date-Time,RT,Area,Final Conc.,Accuracy,MI\n"
           "QCA" +
           std::to_string(n) + ",QCA.d,QC,Low,3/" + day + "/2025 9:00 AM,3.42,30511," + qc +
           ",100.0,FALSE\n" + "P" + std::to_string(n) + ",P.d,Sample,,3/" + day +
           "/2025 9:20 AM,3.42,123456,12.2,,FALSE\n" + "QCB" + std::to_string(n) +
           ",QCB.d,QC,Low,3/" + day + "/2025 9:40 AM,3.41,30102," + qc + ",100.0,FALSE\n";
  }

  /// Drops batch `n` into the inbox and waits until it is processed.
  void drop(int n, const std::string& qc) {
    const std::string name = "batch" + std::to_string(n) + ".csv";
    writeFile(inbox_ + "/." + name + ".tmp", batch(n, qc));
    std::filesystem::rename(inbox_ + "/." + name + ".tmp", inbox_ + "/" + name);
    ASSERT_TRUE(waitUntil([&] { return fileExists(inbox_ + "/processed/" + name); }, 60000ms))
        << name << ": " << readFile(inbox_ + "/rejected/" + name + ".reason");
  }

  std::string inbox_;
};

TEST_F(QcTrendTest, ASlowQcShiftRaisesTrendFindingsTheMetricAndTheHealthApi) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ASSERT_NO_FATAL_FAILURE(drop(1, "3.0"));
  for (int n = 2; n <= 4; ++n) ASSERT_NO_FATAL_FAILURE(drop(n, "3.09"));

  StoreReader db(config_.dataDir + "/labgate.db");
  ASSERT_TRUE(db.ok()) << db.error();
  // The batches in order, by their patient.
  std::vector<std::string> batchIds;
  for (int n = 1; n <= 4; ++n) {
    auto id =
        db.scalar("SELECT message_id FROM samples WHERE sample_id = 'P" + std::to_string(n) + "'");
    ASSERT_TRUE(id) << "batch " << n << " not stored: " << db.error();
    batchIds.push_back(*id);
  }
  auto findings = [&](int n) {
    auto rows = db.rows(
        "SELECT rule_id, severity, action, measured, limit_value, message FROM batch_findings "
        "WHERE message_id = " +
        batchIds[n - 1] + " AND rule_id LIKE 'trend.qc%' ORDER BY rule_id");
    return rows.value_or(std::vector<StoreRow>{});
  };
  for (int n = 1; n <= 3; ++n) EXPECT_TRUE(findings(n).empty()) << "batch " << n;
  auto fourth = findings(4);
  ASSERT_EQ(fourth.size(), 2u);
  EXPECT_EQ(fourth[0][0], "trend.qc_cusum");
  EXPECT_EQ(fourth[0][2], "hold");
  EXPECT_EQ(fourth[0][3], "2.4");  // SH
  EXPECT_EQ(fourth[0][4], "2");    // h
  EXPECT_NE(fourth[0][5].find("QC_TREND_CUSUM: Cortisol QC Low"), std::string::npos)
      << fourth[0][5];
  EXPECT_NE(fourth[0][5].find("high since batch " + batchIds[1]), std::string::npos)
      << fourth[0][5];
  EXPECT_EQ(fourth[1][0], "trend.qc_ewma");
  EXPECT_EQ(fourth[1][1], "info");
  EXPECT_EQ(fourth[1][2], "release");
  EXPECT_EQ(fourth[1][3], "0.872");
  EXPECT_EQ(fourth[1][4], "0.866");
  EXPECT_NE(fourth[1][5].find("high since batch " + batchIds[1]), std::string::npos)
      << fourth[1][5];
  // Westgard rejected nothing along the way.
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM batch_findings WHERE rule_id LIKE 'qc.westgard%' "
                      "AND severity != 'info'"),
            "0");
  // Patients: released in batches 1-3, held in batch 4 by the CUSUM (the EWMA alone would not).
  auto disposition = [&](int n) {
    return db.scalar(
        "SELECT r.disposition FROM results r JOIN samples s ON s.id = r.sample_row_id WHERE "
        "s.sample_id = 'P" +
        std::to_string(n) + "'");
  };
  for (int n = 1; n <= 3; ++n) EXPECT_EQ(disposition(n), "release") << "P" << n;
  EXPECT_EQ(disposition(4), "hold");

  // /metrics: the signal and the state after batch 4.
  ApiResponse metrics = apiRequest("GET", config_.httpPort, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string labels =
      R"(org="default",instrument="tq-01",analyte="Cortisol",level="Low",method=)";
  EXPECT_NE(metrics.body.find("labgate_qc_trend_signal{" + labels + "\"cusum\"} 1\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("labgate_qc_trend_signal{" + labels + "\"ewma\"} 1\n"),
            std::string::npos);
  const std::string statistic =
      "labgate_qc_trend_statistic{" + labels + "\"cusum\",side=\"high\"} ";
  const size_t at = metrics.body.find(statistic);
  ASSERT_NE(at, std::string::npos) << metrics.body;
  EXPECT_NEAR(std::strtod(metrics.body.c_str() + at + statistic.size(), nullptr), 2.4, 1e-9);

  // The health API.
  ApiClient api(config_.httpPort);
  ApiResponse login;
  const std::string token = api.login("default", "admin", kTestAdminPassword, "", &login);
  ASSERT_FALSE(token.empty()) << login.describe();
  ApiResponse health = api.get("/api/v1/instruments/tq-01/health", withBearer(token));
  ASSERT_EQ(health.status, 200) << health.describe();
  ASSERT_TRUE(health.json);
  auto trends = health.json->getArray("qc_trends");
  ASSERT_TRUE(trends);
  ASSERT_EQ(trends->size(), 1u) << health.body;
  auto low = trends->getObject(0);
  EXPECT_EQ(low->getValue<std::string>("analyte"), "Cortisol");
  EXPECT_EQ(low->getValue<std::string>("level"), "Low");
  auto cusum = low->getObject("cusum");
  ASSERT_TRUE(cusum) << health.body;
  EXPECT_EQ(cusum->getValue<std::string>("signal"), "high");
  EXPECT_NEAR(cusum->getValue<double>("sh"), 2.4, 1e-9);
  EXPECT_DOUBLE_EQ(cusum->getValue<double>("h"), 2);
  auto signals = cusum->getArray("last_signals");
  ASSERT_TRUE(signals);
  ASSERT_EQ(signals->size(), 1u) << health.body;
  EXPECT_EQ(std::to_string(signals->getObject(0)->getValue<int64_t>("batch")), batchIds[3]);
  auto ewma = low->getObject("ewma");
  ASSERT_TRUE(ewma) << health.body;
  EXPECT_EQ(ewma->getValue<std::string>("signal"), "high");
  EXPECT_NEAR(ewma->getValue<double>("value"), 0.9 * (1 - std::pow(0.5, 6)), 1e-9);
  // An instrument the organisation has no batch from is not found.
  ApiResponse unknown = api.get("/api/v1/instruments/qqq-99/health", withBearer(token));
  EXPECT_EQ(unknown.status, 404) << unknown.describe();

  // Another organisation does not see this instrument: 404 for its administrator too.
  const std::string initial = accounts::strongPassword();
  ApiResponse created = api.post("/api/v1/organisations",
                                 Json()
                                     .set("id", "lab-b")
                                     .set("name", "Laboratory B")
                                     .set("admin", Json()
                                                       .set("username", "b-boss")
                                                       .set("printed_name", "B Boss")
                                                       .set("password", initial))
                                     .str(),
                                 withBearer(token));
  ASSERT_EQ(created.status, 201) << created.describe();
  const std::string first = api.login("lab-b", "b-boss", initial);
  ASSERT_FALSE(first.empty());
  const std::string next = accounts::strongPassword();
  ApiResponse changed = api.post(
      "/api/v1/me/password",
      Json().set("current_password", initial).set("new_password", next).str(), withBearer(first));
  ASSERT_TRUE(changed.ok()) << changed.describe();
  const std::string boss = api.login("lab-b", "b-boss", next);
  ASSERT_FALSE(boss.empty());
  ApiResponse foreign = api.get("/api/v1/instruments/tq-01/health", withBearer(boss));
  EXPECT_EQ(foreign.status, 404) << foreign.describe();
}

}  // namespace
}  // namespace labgate::it
