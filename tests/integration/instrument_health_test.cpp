// Issue 19 (health): the instrument-health checks of one batch through the real engine — a
// MassHunter export dropped into a file-drop connector, read back from the engine's store.
//  - The lab's SST criteria (rule set `batch.sst`) are a gate before patient evaluation: an SST
//    injection below the lab's minimum S/N holds the batch's patients; the same batch with a good
//    SST injection releases them.
//  - IS_DRIFT_ONSET: the IS response falls over the patients; the patients from the CUSUM's onset
//    on are held, the ones before it are released.
//
// The base is tests/data/probes/probe_base_masshunter.csv (one analyte, Probamol, whose curve,
// blanks and QCs all pass; every IS area it implies is 1e5, so the IS ratios are exactly 1 but for
// what a test changes). Patient rows are copies of its QC_Mid_1 injection named by probe codes.
#include <Poco/File.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/integration/autoverify_probes.h"
#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

using probes::BatchOutcome;
using probes::WideExport;
using Row = std::vector<std::string>;

const char* const kAnalyte = "Probamol";

std::string baseExport() {
  return readFile(sourceDir() + "/tests/data/probes/probe_base_masshunter.csv");
}

/// A patient `name` copied from QC_Mid_1 (30 ng/mL), its IS response at `isFactor` of the others:
/// the area scales and the response ratio (so the concentration) stays, so the IS area the export
/// implies (Area / ISTD Resp. Ratio) scales.
Row patient(const WideExport& e, const std::string& name, double isFactor = 1.0) {
  Row row = e.rows.at(e.rowOf("QC_Mid_1").value());
  probes::makePatient(e, row, name);
  if (isFactor != 1.0) e.scale(row, kAnalyte, "Area", isFactor);
  return row;
}

/// A system-suitability injection (Type "SST") copied from QC_Mid_1 with signal-to-noise `sn`.
Row sstInjection(const WideExport& e, const std::string& name, const std::string& sn) {
  Row row = e.rows.at(e.rowOf("QC_Mid_1").value());
  e.set(row, "", "Type", "SST");
  e.set(row, "", "Level", "");
  e.set(row, "", "Name", name);
  e.set(row, "", "Data File", name + ".d");
  e.set(row, kAnalyte, "Exp. Conc.", "");
  e.set(row, kAnalyte, "S/N", sn);
  return row;
}

/// The patients after QC_High_1 (between the two QC groups), an optional SST injection first.
std::string exportWith(const std::vector<Row>& patients, const std::optional<Row>& sst) {
  WideExport e = WideExport::parse(baseExport());
  const size_t at = e.rowOf("QC_High_1").value() + 1;
  e.rows.insert(e.rows.begin() + static_cast<std::ptrdiff_t>(at), patients.begin(), patients.end());
  if (sst) e.rows.insert(e.rows.begin(), *sst);
  probes::retime(e);
  return e.csv();
}

class InstrumentHealth : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    const std::string mappings = tmp_->file("health-mappings.csv");
    writeFile(mappings,
              "instrument_code,lis_code,lis_name,units,decimals\n"
              "Probamol,PRB,Probamol (probe),ng/mL,\n");
    config_.connectors.clear();
    ConnectorConfig c;
    c.name = "health";
    c.kind = "file-drop";
    c.instrument = "qqq-health";
    c.mappings = mappings;
    inbox_ = tmp_->file("inbox-health");
    Poco::File(inbox_).createDirectories();
    c.extra = {{"inbox", inbox_}, {"poll_ms", "100"}, {"settle_ms", "300"}, {"rules", rules()}};
    config_.connectors.push_back(c);
    config_.omit("connector.health.listen");
    config_.omit("connector.health.astm.receive_timeout_seconds");
  }

  /// The shipped clinical profile with the probe analyte's targets and critical limits (as the
  /// autoverify probes set them), plus the lab's health settings: a minimum SST S/N of 100 and
  /// the IS drift onset CUSUM scaled by sd(log IS ratio) = 0.05.
  std::string rules() {
    std::string text = readFile(sourceDir() + "/config/rules/lcms-default.json");
    auto replace = [&](const std::string& from, const std::string& to) {
      const size_t at = text.find(from);
      EXPECT_NE(at, std::string::npos) << "the clinical profile no longer says " << from;
      if (at != std::string::npos) text.replace(at, from.size(), to);
    };
    replace(R"("analytes": {})",
            R"("analytes": {"Probamol": {"peak": {"ion_ratio_reference": 0.40, )"
            R"("not_applicable": ["is_rt_window"]}, )"
            R"("limits": {"critical_low": 0, "critical_high": 100000}, )"
            R"("qc_targets": {"Low": {"mean": 3, "sd": 0.15}, "Mid": {"mean": 30, "sd": 1.5},)"
            R"( "High": {"mean": 80, "sd": 4}}}},)"
            R"( "batch": {"sst": {"min_signal_to_noise": 100},)"
            R"( "is_drift_onset": {"sd_log_ratio": 0.05}})");
    std::string path = tmp_->file("health.json");
    writeFile(path, text);
    return path;
  }

  /// Drops the files into the inbox, waits until the engine processed each, and reads each back.
  std::vector<BatchOutcome> throughTheEngine(
      const std::vector<std::pair<std::string, std::string>>& files,  // name, text
      const std::vector<std::string>& anySample) {
    startLis();
    EXPECT_NO_FATAL_FAILURE(startEngine());
    for (const auto& [name, text] : files) {
      writeFile(inbox_ + "/." + name + ".tmp", text);
      Poco::File(inbox_ + "/." + name + ".tmp").renameTo(inbox_ + "/" + name);
    }
    std::vector<BatchOutcome> out;
    for (size_t i = 0; i < files.size(); ++i) {
      const std::string& name = files[i].first;
      EXPECT_TRUE(waitUntil([&] { return fileExists(inbox_ + "/processed/" + name); }, 180000ms))
          << name << ": " << readFile(inbox_ + "/rejected/" + name + ".reason");
      out.push_back(probes::fromStore(config_.dataDir + "/labgate.db", anySample[i]));
    }
    return out;
  }

  std::string inbox_;
};

size_t batchFindingsSaying(const BatchOutcome& b, const std::string& text) {
  size_t n = 0;
  for (const probes::Finding& f : b.batchFindings) n += f.message.find(text) != std::string::npos;
  return n;
}

TEST_F(InstrumentHealth, AnSstFailureHoldsTheBatchAndIsDriftHoldsThePatientsAfterItsOnset) {
  WideExport base = WideExport::parse(baseExport());
  // 1. The SST injection at S/N 60, below the lab's 100 (the peak checks alone would pass it).
  const std::string sstFail = exportWith({patient(base, "HF-NORMAL"), patient(base, "HF-OTHER")},
                                         sstInjection(base, "SST_FAIL_1", "60"));
  // 2. The same batch with its SST injection at S/N 500.
  const std::string sstPass =
      exportWith({patient(base, "HP-NORMAL")}, sstInjection(base, "SST_PASS_1", "500"));
  // 3. The IS response falls over the patients: 1, 1, 1, 0.85, 0.80, 0.75 of the others. With
  // sd 0.05, k 0.5, h 4 the lower CUSUM on log(IS ratio)/0.05 is 0 up to D-3, 2.75 at D-4
  // (ln 0.85/0.05 = −3.25) and 6.71 at D-5 (ln 0.80/0.05 = −4.46): the onset is D-5.
  const std::string drift = exportWith(
      {patient(base, "D-1"), patient(base, "D-2"), patient(base, "D-3"), patient(base, "D-4", 0.85),
       patient(base, "D-5", 0.80), patient(base, "D-6", 0.75)},
      std::nullopt);

  std::vector<BatchOutcome> out = throughTheEngine({{"health-sst-fail.csv", sstFail},
                                                    {"health-sst-pass.csv", sstPass},
                                                    {"health-drift.csv", drift}},
                                                   {"HF-NORMAL", "HP-NORMAL", "D-1"});
  ASSERT_EQ(out.size(), 3u);
  for (const BatchOutcome& b : out) ASSERT_TRUE(b.error.empty()) << b.error;

  // The SST failure: one batch finding naming the injection and the criterion; every patient held
  // by the SST gate.
  EXPECT_EQ(batchFindingsSaying(out[0],
                                "sample SST_FAIL_1 (system suitability) failed "
                                "SST_SIGNAL_TO_NOISE"),
            1u)
      << out[0].describeBatch();
  for (const char* p : {"HF-NORMAL", "HF-OTHER"}) {
    const probes::Outcome* o = out[0].find(p, kAnalyte);
    ASSERT_NE(o, nullptr) << p << "\n" << out[0].describeBatch();
    EXPECT_EQ(o->disposition, "hold") << o->describe();
    EXPECT_TRUE(o->hasRule("autoverify.sst")) << o->describe();
    EXPECT_TRUE(o->hasCode("SST_SIGNAL_TO_NOISE")) << o->describe();
  }
  // A good SST injection: the patient is released.
  const probes::Outcome* released = out[1].find("HP-NORMAL", kAnalyte);
  ASSERT_NE(released, nullptr) << out[1].describeBatch();
  EXPECT_EQ(released->disposition, "release") << released->describe();
  EXPECT_EQ(batchFindingsSaying(out[1], "SST_FAIL"), 0u) << out[1].describeBatch();

  // The IS drift: the onset said once for the batch; D-1 … D-4 released, D-5 and D-6 held.
  EXPECT_EQ(batchFindingsSaying(out[2], "IS_DRIFT_ONSET"), 1u) << out[2].describeBatch();
  for (const char* p : {"D-1", "D-2", "D-3", "D-4"}) {
    const probes::Outcome* o = out[2].find(p, kAnalyte);
    ASSERT_NE(o, nullptr) << p << "\n" << out[2].describeBatch();
    EXPECT_EQ(o->disposition, "release") << p << ": " << o->describe();
    EXPECT_FALSE(o->hasRule("trend.is_drift_onset")) << p << ": " << o->describe();
  }
  for (const char* p : {"D-5", "D-6"}) {
    const probes::Outcome* o = out[2].find(p, kAnalyte);
    ASSERT_NE(o, nullptr) << p << "\n" << out[2].describeBatch();
    EXPECT_EQ(o->disposition, "hold") << p << ": " << o->describe();
    EXPECT_TRUE(o->hasRule("trend.is_drift_onset")) << p << ": " << o->describe();
  }
}

}  // namespace
}  // namespace labgate::it
