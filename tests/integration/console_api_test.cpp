// Issue 15: the web console's read models through the real labgated (docs/api.md "The console's
// read models").
//  - GET /api/v1/batches/{id}/charts of an LC-MS/MS batch dropped into a watched folder: the
//    calibrators with their responses and back-calculated accuracies, coefficients consistent
//    with the accepted points, the calibrator the rules left out (auto_exclude) flagged, the IS
//    area of every injection, the QC series with an earlier batch's values and this batch's, the
//    Westgard violation marked on the value that raised it; 404 for another organisation.
//  - GET /api/v1/overview: per-minute counts after the batches and a refused file, the held
//    backlog as GET /api/v1/batches?state=held counts it, 400 for a bad `minutes`, 403 without
//    connectors.read.
//
// The batches are tests/data/probes/probe_base_masshunter.csv (one analyte, Probamol, response =
// 0.02 · concentration exactly; every IS area it implies is 1e5), edited: batch 2's calibrator
// "Cal 3" reads 140 % (the rules exclude it and refit) and its QC_High_2 96 ng/mL (target 80 ± 4:
// z = 4, a 1_3s violation).
#include <Poco/File.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/integration/accounts_test_support.h"
#include "tests/integration/autoverify_probes.h"

namespace labgate::it::accounts {
namespace {

using probes::WideExport;
using Row = std::vector<std::string>;
using Poco::JSON::Array;
using Poco::JSON::Object;

const char* const kAnalyte = "Probamol";

std::string baseExport() {
  return readFile(sourceDir() + "/tests/data/probes/probe_base_masshunter.csv");
}

/// The base batch with a patient `patient` (a copy of QC_Mid_1) after QC_High_1; `edit` changes
/// rows before it is written.
std::string batchWith(const std::string& patient,
                      const std::function<void(WideExport&)>& edit = nullptr) {
  WideExport e = WideExport::parse(baseExport());
  Row row = e.rows.at(e.rowOf("QC_Mid_1").value());
  probes::makePatient(e, row, patient);
  const size_t at = e.rowOf("QC_High_1").value() + 1;
  e.rows.insert(e.rows.begin() + static_cast<std::ptrdiff_t>(at), row);
  if (edit) edit(e);
  probes::retime(e);
  return e.csv();
}

/// Every concentration and response of `name`'s row times `factor` (the IS area stays).
void scaleRow(WideExport& e, const std::string& name, double factor) {
  Row& row = e.rows.at(e.rowOf(name).value());
  for (const char* column : {"Final Conc.", "Area", "Height", "ISTD Resp. Ratio"}) {
    e.scale(row, kAnalyte, column, factor);
  }
}

double num(const Object::Ptr& o, const std::string& key) {
  return o && o->has(key) && !o->isNull(key) ? o->getValue<double>(key) : NAN;
}

Object::Ptr objectAt(const Array::Ptr& a, size_t i) {
  return a ? a->getObject(static_cast<unsigned>(i)) : nullptr;
}

class ConsoleApi : public AccountsTest {
 protected:
  void SetUp() override {
    AccountsTest::SetUp();
    const std::string mappings = tmp_->file("console-mappings.csv");
    writeFile(mappings,
              "instrument_code,lis_code,lis_name,units,decimals\n"
              "Probamol,PRB,Probamol (probe),ng/mL,\n");
    ConnectorConfig c;
    c.name = "console";
    c.kind = "file-drop";
    c.instrument = "qqq-console";
    c.mappings = mappings;
    inbox_ = tmp_->file("inbox-console");
    Poco::File(inbox_).createDirectories();
    c.extra = {{"inbox", inbox_}, {"poll_ms", "100"}, {"settle_ms", "300"}, {"rules", rules()}};
    config_.connectors.push_back(c);
    config_.omit("connector.console.listen");
    config_.omit("connector.console.astm.receive_timeout_seconds");
  }

  /// The shipped clinical profile with the probe analyte's QC targets and critical limits, and
  /// calibration.auto_exclude (a failing calibrator left out of the curve).
  std::string rules() {
    std::string text = readFile(sourceDir() + "/config/rules/lcms-default.json");
    auto replace = [&](const std::string& from, const std::string& to) {
      const size_t at = text.find(from);
      EXPECT_NE(at, std::string::npos) << "the clinical profile no longer says " << from;
      if (at != std::string::npos) text.replace(at, from.size(), to);
    };
    replace(R"("carryover_suspect_always": true})",
            R"("carryover_suspect_always": true, "auto_exclude": true})");
    replace(R"("analytes": {})",
            R"("analytes": {"Probamol": {"peak": {"ion_ratio_reference": 0.40, )"
            R"("not_applicable": ["is_rt_window"]}, )"
            R"("limits": {"critical_low": 0, "critical_high": 100000}, )"
            R"("qc_targets": {"Low": {"mean": 3, "sd": 0.15}, "Mid": {"mean": 30, "sd": 1.5},)"
            R"( "High": {"mean": 80, "sd": 4}}}})");
    std::string path = tmp_->file("console-rules.json");
    writeFile(path, text);
    return path;
  }

  /// Drops a file and waits until the engine has moved it to processed/ (or rejected/).
  void dropAndWait(const std::string& name, const std::string& text, bool expectProcessed = true) {
    writeFile(inbox_ + "/." + name + ".tmp", text);
    Poco::File(inbox_ + "/." + name + ".tmp").renameTo(inbox_ + "/" + name);
    const std::string where = inbox_ + (expectProcessed ? "/processed/" : "/rejected/") + name;
    EXPECT_TRUE(waitUntil([&] { return fileExists(where); }, 180000ms))
        << name << " never reached " << (expectProcessed ? "processed/" : "rejected/");
  }

  /// The batch that holds sample `sampleId`, as `token` sees it (0 when none).
  int64_t batchOf(const std::string& token, const std::string& sampleId) {
    const std::string row = sampleRowId(token, sampleId);
    if (row.empty()) return 0;
    return api_.get("/api/v1/samples/" + row, withBearer(token)).number("message_id", 0);
  }

  ApiResponse charts(const std::string& token, int64_t batch) {
    return api_.get("/api/v1/batches/" + std::to_string(batch) + "/charts", withBearer(token));
  }

  std::string inbox_;
};

TEST_F(ConsoleApi, ChartsOfADroppedBatchAreDrawnFromItsData) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  dropAndWait("console-1.csv", batchWith("CP-1"));
  dropAndWait("console-2.csv", batchWith("CP-2", [](WideExport& e) {
                scaleRow(e, "Cal 3", 1.4);
                scaleRow(e, "QC_High_2", 1.2);
              }));
  const int64_t first = batchOf(admin, "CP-1");
  const int64_t second = batchOf(admin, "CP-2");
  ASSERT_GT(first, 0);
  ASSERT_GT(second, first);

  ApiResponse r = charts(admin, second);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.number("batch", 0), second);
  Array::Ptr analytes = r.json->getArray("analytes");
  ASSERT_TRUE(analytes);
  ASSERT_EQ(analytes->size(), 1u);
  Object::Ptr a = objectAt(analytes, 0);
  EXPECT_EQ(str(a, "analyte"), kAnalyte);
  EXPECT_EQ(str(a, "lis_code"), "PRB");
  EXPECT_EQ(str(a, "units"), "ng/mL");

  // The calibration: six calibrators, "Cal 3" excluded, the curve through the others.
  Object::Ptr cal = a->getObject("calibration");
  ASSERT_TRUE(cal) << "no calibration";
  EXPECT_EQ(str(cal, "model"), "linear");
  EXPECT_EQ(str(cal, "weighting"), "1/x2");
  Array::Ptr coefficients = cal->getArray("coefficients");
  ASSERT_TRUE(coefficients);
  ASSERT_EQ(coefficients->size(), 2u);
  const double c0 = coefficients->getElement<double>(0);
  const double c1 = coefficients->getElement<double>(1);
  EXPECT_NEAR(c1, 0.02, 1e-9);
  EXPECT_GT(num(cal, "r_squared"), 0.999);
  Array::Ptr points = cal->getArray("points");
  ASSERT_TRUE(points);
  ASSERT_EQ(points->size(), 6u);
  size_t excluded = 0;
  for (size_t i = 0; i < points->size(); ++i) {
    Object::Ptr p = objectAt(points, i);
    const std::string id = str(p, "sample_id");
    const bool isExcluded = p->getValue<bool>("excluded");
    excluded += isExcluded;
    EXPECT_EQ(isExcluded, id == "Cal 3") << id;
    const double x = num(p, "expected");
    const double y = num(p, "response");
    ASSERT_TRUE(std::isfinite(x) && std::isfinite(y)) << id;
    if (isExcluded) {
      EXPECT_NEAR(num(p, "accuracy"), 140.0, 1e-6) << id;
      continue;
    }
    // The coefficients reproduce every accepted point: response = c0 + c1·x.
    EXPECT_NEAR(c0 + c1 * x, y, 1e-9 * std::max(1.0, y)) << id;
    EXPECT_NEAR(num(p, "calculated"), x, 1e-6 * x) << id;
    EXPECT_NEAR(num(p, "accuracy"), 100.0, 1e-6) << id;
  }
  EXPECT_EQ(excluded, 1u);

  // The IS response: every injection of the batch (15: two blanks, six calibrators, six QCs, the
  // patient), each at 1e5, in injection order.
  Array::Ptr is = a->getArray("internal_standard_response");
  ASSERT_TRUE(is);
  std::string injections;
  for (size_t i = 0; i < is->size(); ++i) injections += str(objectAt(is, i), "sample_id") + "; ";
  EXPECT_EQ(is->size(), 15u) << injections;
  int64_t lastInjection = 0;
  for (size_t i = 0; i < is->size(); ++i) {
    Object::Ptr p = objectAt(is, i);
    EXPECT_NEAR(num(p, "area"), 1e5, 1e-3) << str(p, "sample_id");
    EXPECT_GT(p->getValue<int64_t>("injection"), lastInjection);
    lastInjection = p->getValue<int64_t>("injection");
    EXPECT_FALSE(str(p, "kind").empty());
  }

  // The QC: three levels, each with the earlier batch's two values and this batch's two.
  Array::Ptr qc = a->getArray("qc");
  ASSERT_TRUE(qc);
  ASSERT_EQ(qc->size(), 3u);
  bool sawViolation = false;
  for (size_t l = 0; l < qc->size(); ++l) {
    Object::Ptr level = objectAt(qc, l);
    const std::string name = str(level, "level");
    Array::Ptr values = level->getArray("points");
    ASSERT_TRUE(values);
    ASSERT_EQ(values->size(), 4u) << name;
    const double mean = num(level, "mean");
    const double sd = num(level, "sd");
    EXPECT_GT(sd, 0) << name;
    for (size_t i = 0; i < values->size(); ++i) {
      Object::Ptr p = objectAt(values, i);
      const bool thisBatch = p->getValue<bool>("this_batch");
      EXPECT_EQ(thisBatch, i >= 2) << name << " " << i << ": earlier values first";
      EXPECT_EQ(p->getValue<int64_t>("batch"), thisBatch ? second : first);
      EXPECT_NEAR(num(p, "z"), (num(p, "value") - mean) / sd, 1e-9);
      Array::Ptr violations = p->getArray("violations");
      ASSERT_TRUE(violations);
      const bool high2 = str(p, "sample_id") == "QC_High_2" && thisBatch;
      if (high2) {
        EXPECT_NEAR(num(p, "z"), 4.0, 1e-6);
        bool has13s = false;
        for (size_t v = 0; v < violations->size(); ++v) {
          has13s =
              has13s || violations->getElement<std::string>(static_cast<unsigned>(v)) == "1_3s";
        }
        EXPECT_TRUE(has13s) << "QC_High_2 carries no 1_3s";
        sawViolation = true;
      } else {
        EXPECT_EQ(violations->size(), 0u) << name << " " << str(p, "sample_id");
      }
    }
  }
  EXPECT_TRUE(sawViolation);

  // The batch's findings of the analyte, as GET /batches/{id} shows them.
  Array::Ptr findings = a->getArray("findings");
  ASSERT_TRUE(findings);
  bool westgard = false;
  for (size_t i = 0; i < findings->size(); ++i) {
    Object::Ptr f = objectAt(findings, i);
    EXPECT_EQ(str(f, "analyte"), kAnalyte);
    EXPECT_FALSE(str(f, "severity").empty());
    westgard = westgard || str(f, "rule") == "qc.westgard.1_3s";
  }
  EXPECT_TRUE(westgard) << "no qc.westgard.1_3s finding";

  // Another organisation sees no such batch; nor does anyone an unknown one.
  const std::string bossInitial = strongPassword();
  remember("lab-b initial password", bossInitial);
  ApiResponse created = api_.post("/api/v1/organisations",
                                  Json()
                                      .set("id", "lab-b")
                                      .set("name", "Laboratory B")
                                      .set("admin", Json()
                                                        .set("username", "b-boss")
                                                        .set("printed_name", "B Boss")
                                                        .set("password", bossInitial))
                                      .str(),
                                  withBearer(admin));
  ASSERT_EQ(created.status, 201) << created.describe();
  Account boss;
  boss.org = "lab-b";
  boss.username = "b-boss";
  activate(boss, bossInitial);
  EXPECT_EQ(charts(boss.token, second).status, 404);
  EXPECT_EQ(charts(admin, second + 1000).status, 404);
  EXPECT_EQ(api_.get("/api/v1/batches/" + std::to_string(second) + "/charts?x=1", withBearer(admin))
                .status,
            400);
}

TEST_F(ConsoleApi, OverviewCountsWhatArrivedAndWhatWaits) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  dropAndWait("overview-1.csv", batchWith("OV-1"));
  dropAndWait("overview-2.csv", batchWith("OV-2", [](WideExport& e) {
                scaleRow(e, "QC_High_2", 1.2);  // a rejected run: the patient is held
              }));
  // A file with patient columns: refused by the PHI gate.
  dropAndWait("overview-refused.csv", readFile(exportData("patient_column.csv")), false);

  auto sum = [](const ApiResponse& r, const std::string& key) {
    int64_t total = 0;
    Array::Ptr minutes = r.json ? r.json->getArray("throughput") : nullptr;
    for (size_t i = 0; minutes && i < minutes->size(); ++i) {
      total += objectAt(minutes, i)->getValue<int64_t>(key);
    }
    return total;
  };
  const std::string db = config_.dataDir + "/labgate.db";
  ApiResponse r;
  // Deliveries finish after the commit: wait until the store and the overview agree.
  EXPECT_TRUE(waitUntil(
      [&] {
        r = api_.get("/api/v1/overview?minutes=15", withBearer(admin));
        const std::string delivered =
            storeQuery(db, "SELECT COUNT(*) FROM outbound WHERE state = 'delivered'").value_or("");
        return r.status == 200 && sum(r, "refused") >= 1 &&
               std::to_string(sum(r, "delivered")) == delivered;
      },
      30000ms, 500ms))
      << r.describe();
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.number("minutes", 0), 15);
  EXPECT_FALSE(r.text("generated_at").empty());
  Array::Ptr minutes = r.json->getArray("throughput");
  ASSERT_TRUE(minutes);
  ASSERT_EQ(minutes->size(), 15u);
  std::string previous;
  for (size_t i = 0; i < minutes->size(); ++i) {
    const std::string at = str(objectAt(minutes, i), "at");
    EXPECT_EQ(at.size(), 20u) << at;
    EXPECT_EQ(at.substr(16), ":00Z") << at;
    EXPECT_LT(previous, at) << "oldest first";
    previous = at;
  }
  EXPECT_EQ(sum(r, "received"), 2);
  EXPECT_EQ(sum(r, "refused"), 1);
  // Results as the batches count them: internal standards are not results.
  const std::string results =
      storeQuery(db, "SELECT COUNT(*) FROM results WHERE internal_standard = 0").value_or("?");
  EXPECT_EQ(std::to_string(sum(r, "results")), results);
  EXPECT_EQ(r.number("dead_letters", -1), 0);

  // The held backlog is what the review queue shows.
  ApiResponse held = api_.get("/api/v1/batches?state=held", withBearer(admin));
  ASSERT_EQ(held.status, 200) << held.describe();
  int64_t waiting = 0;
  std::string oldest;
  for (const auto& b : itemsOf(held)) {
    waiting += b->getValue<int64_t>("waiting");
    const std::string at = str(b, "received_at");
    if (oldest.empty() || at < oldest) oldest = at;
  }
  Object::Ptr backlog = r.json->getObject("held");
  ASSERT_TRUE(backlog);
  EXPECT_GE(backlog->getValue<int64_t>("batches"), 1);
  EXPECT_EQ(backlog->getValue<int64_t>("batches"), static_cast<int64_t>(itemsOf(held).size()));
  EXPECT_EQ(backlog->getValue<int64_t>("results"), waiting);
  EXPECT_EQ(str(backlog, "oldest_received_at"), oldest);

  for (const char* bad : {"?minutes=4", "?minutes=1441", "?minutes=abc", "?minutes=", "?hours=1"}) {
    ApiResponse refused = api_.get(std::string("/api/v1/overview") + bad, withBearer(admin));
    EXPECT_EQ(refused.status, 400) << bad << ": " << refused.describe();
  }
  EXPECT_EQ(api_.get("/api/v1/overview?minutes=5", withBearer(admin)).status, 200);
  EXPECT_EQ(api_.get("/api/v1/overview?minutes=1440", withBearer(admin)).status, 200);
  // A reviewer reads results, not the connectors' state.
  const Account reviewer = createAccount(admin, "rev", {"qa-reviewer"});
  EXPECT_EQ(api_.get("/api/v1/overview", withBearer(reviewer.token)).status, 403);
}

}  // namespace
}  // namespace labgate::it::accounts
