// Issue 20, "Done means": probe batches through `labgate dry-run` (the real binary) and through
// the engine (a file-drop connector), under the shipped clinical default profile
// (config/rules/lcms-default.json) with QC targets and critical limits for the probe analytes.
//
// A probe batch keeps a base export's calibrators and QCs and gets made-up patient rows, one
// problem per patient, plus a normal patient that must be released and one below the LLOQ
// released as `<LLOQ`. Batch-level problems are variants of the whole batch. The bases:
//  - tests/data/probes/probe_base_masshunter.csv: our own MassHunter batch of one analyte
//    (Probamol) whose curve, blanks and QCs all pass, so every disposition is asserted;
//  - tests/data/probes/probe_unknown_order_targetlynx.txt: a TargetLynx summary sorted by name
//    with no injection number and no acquisition time (the order is unknown);
//  - ../shared/corpus/lcms/masshunter_quant/mrmhub_MH_ext_cal_quant_assay.csv (skipped without
//    ../shared): the real clinical batch. Its corticosterone and cortisol curves fail and a
//    cortisone QC fails, so no patient of it can be released; the probes assert the finding that
//    explains each problem on the cortisone result (the analyte whose curve passes).
#include "tests/integration/autoverify_probes.h"

#include <Poco/File.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

using probes::BatchOutcome;
using probes::Outcome;
using probes::WideExport;

using Row = std::vector<std::string>;
using Problem = std::function<void(const WideExport&, Row&, const std::string& compound)>;

std::string probeData(const std::string& name) {
  return sourceDir() + "/tests/data/probes/" + name;
}
std::string corpusClinicalBatch() {
  return sharedDir() + "/corpus/lcms/masshunter_quant/mrmhub_MH_ext_cal_quant_assay.csv";
}

/// Where a base keeps what the probes copy: the template rows and the place of the patients.
struct Base {
  std::string text;
  std::string normal;       // a mid-range injection copied as the normal patient
  std::string lowestCal;    // copied at half its amount: below the LLOQ
  std::string topCal;       // copied at 1.5 times its amount: above the ULOQ
  std::string insertAfter;  // the patients follow this injection (between two QC groups)
  std::string lowQc;        // copied at 130 % for the failed-QC-level probe
};

Base syntheticBase() {
  return {readFile(probeData("probe_base_masshunter.csv")),
          "QC_Mid_1",
          "Cal 1",
          "Cal 6",
          "QC_High_1",
          "QC_Low_2"};
}
Base corpusBase() {
  return {readFile(corpusClinicalBatch()), "QC_Low_1", "Cal A", "Cal F", "QC_Low_5", "QC_Low_5"};
}

/// A patient row: a copy of `templ`, renamed, with `problem` applied to every compound.
Row patient(const WideExport& e, const std::string& templ, const std::string& name,
            const Problem& problem) {
  Row row = e.rows.at(e.rowOf(templ).value());
  probes::makePatient(e, row, name);
  for (const std::string& c : e.compounds()) problem(e, row, c);
  return row;
}

void insertPatients(WideExport& e, const std::string& after, const std::vector<Row>& patients) {
  const size_t at = e.rowOf(after).value() + 1;
  e.rows.insert(e.rows.begin() + static_cast<std::ptrdiff_t>(at), patients.begin(), patients.end());
  probes::retime(e);
}

const Problem kNone = [](const WideExport&, Row&, const std::string&) {};
Problem scaled(double factor) {
  return [factor](const WideExport& e, Row& r, const std::string& c) {
    probes::scaleAmount(e, r, c, factor);
  };
}

/// The patient probes in one batch, named TAG-PROBLEM, in injection order. The patient after
/// the one above the ULOQ is a normal one: its only problem is where it was injected.
std::string patientProbes(const Base& base, const std::string& tag) {
  WideExport e = WideExport::parse(base.text);
  std::vector<Row> rows{
      patient(e, base.normal, tag + "-NORMAL", kNone),
      patient(e, base.lowestCal, tag + "-BELOW-LLOQ", scaled(0.5)),
      patient(e, base.normal, tag + "-IS-10PCT", probes::isAtTenPercent),
      patient(e, base.normal, tag + "-SN-LOW", probes::lowSignalToNoise),
      patient(e, base.normal, tag + "-TAILING", probes::tailing),
      patient(e, base.normal, tag + "-ION-RATIO", probes::ionRatioOff),
      patient(e, base.topCal, tag + "-ABOVE-ULOQ", scaled(1.5)),
      patient(e, base.normal, tag + "-AFTER-ULOQ", kNone),
  };
  insertPatients(e, base.insertAfter, rows);
  return e.csv();
}

/// A batch variant with one normal patient, and, with `ionRatioPatient`, the ion-ratio patient
/// (without qualifier columns the export cannot show its +97 %).
std::string variant(const Base& base, const std::string& tag,
                    const std::function<void(WideExport&)>& change, bool ionRatioPatient = false) {
  WideExport e = WideExport::parse(base.text);
  std::vector<Row> rows{patient(e, base.normal, tag + "-NORMAL", kNone)};
  if (ionRatioPatient)
    rows.push_back(patient(e, base.normal, tag + "-ION-RATIO", probes::ionRatioOff));
  insertPatients(e, base.insertAfter, rows);
  change(e);
  return e.csv();
}

/// One probe's expected outcome on one result: the disposition (empty: not asserted), the rule
/// or the reason code of the finding that explains it, and the value sent.
struct Expect {
  std::string sample;
  std::string analyte;
  std::string disposition;
  std::string rule;   // a finding of this rule id
  std::string code;   // a finding whose message holds this reason code
  std::string value;  // the value sent; "<*": any "<LLOQ" text
};

struct Batch {
  std::string file;
  std::string connector;
  std::string text;
  std::string anySample;  // a patient sample of the batch, to find it in the store
  std::vector<Expect> expects;
  std::string batchFindingText;  // exactly one batch finding says this (case-insensitive)
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

void check(const BatchOutcome& outcome, const Batch& batch, const std::string& path) {
  SCOPED_TRACE(path + ": " + batch.file);
  ASSERT_TRUE(outcome.error.empty()) << outcome.error;
  for (const Expect& e : batch.expects) {
    const Outcome* o = outcome.find(e.sample, e.analyte);
    ASSERT_NE(o, nullptr) << e.sample << " " << e.analyte << " not found\n"
                          << outcome.describeBatch();
    const std::string what = e.sample + " " + e.analyte + ": " + o->describe();
    if (!e.disposition.empty()) {
      EXPECT_EQ(o->disposition, e.disposition) << what;
    }
    if (!e.rule.empty()) {
      EXPECT_TRUE(o->hasRule(e.rule)) << "no " << e.rule << "\n" << what;
    }
    if (!e.code.empty()) {
      EXPECT_TRUE(o->hasCode(e.code)) << "no " << e.code << "\n" << what;
    }
    if (e.value == "<*") {
      EXPECT_EQ(o->value.rfind('<', 0), 0u) << what;
    } else if (!e.value.empty()) {
      EXPECT_EQ(o->value, e.value) << what;
    }
  }
  if (!batch.batchFindingText.empty()) {
    size_t n = std::count_if(
        outcome.batchFindings.begin(), outcome.batchFindings.end(), [&](const probes::Finding& f) {
          return lower(f.message).find(lower(batch.batchFindingText)) != std::string::npos;
        });
    EXPECT_EQ(n, 1u) << "one batch finding saying \"" << batch.batchFindingText << "\"\n"
                     << outcome.describeBatch();
  }
}

/// The synthetic probes: every disposition is asserted.
std::vector<Batch> syntheticBatches() {
  const Base base = syntheticBase();
  const std::string a = "Probamol";
  std::vector<Batch> out;
  out.push_back({"probes.csv",
                 "probes",
                 patientProbes(base, "M"),
                 "M-NORMAL",
                 {
                     {"M-NORMAL", a, "release", "", "", "30"},
                     {"M-BELOW-LLOQ", a, "release", "", "", "<1"},
                     {"M-IS-10PCT", a, "hold", "peak.is_response", "", ""},
                     {"M-SN-LOW", a, "hold", "peak.signal_to_noise", "", ""},
                     {"M-TAILING", a, "hold", "peak.shape", "", ""},
                     {"M-ION-RATIO", a, "hold", "peak.ion_ratio", "", ""},
                     {"M-ABOVE-ULOQ", a, "hold", "", "DILUTE_AND_RERUN", ""},
                     {"M-AFTER-ULOQ", a, "hold", "", "CARRYOVER_SUSPECT", ""},
                 },
                 ""});
  out.push_back({"probes-no-qualifiers.csv",
                 "probes",
                 variant(base, "Q", probes::withoutQualifiers, true),
                 "Q-NORMAL",
                 {{"Q-NORMAL", a, "hold", "peak.export_data", "ion_ratio", ""},
                  {"Q-ION-RATIO", a, "hold", "peak.export_data", "ion_ratio", ""}},
                 ""});
  out.push_back({"probes-no-is.csv",
                 "probes",
                 variant(base, "I", probes::withoutIsData),
                 "I-NORMAL",
                 {{"I-NORMAL", a, "hold", "peak.export_data", "is_response", ""}},
                 ""});
  out.push_back({"probes-no-curve.csv",
                 "probes",
                 variant(base, "C", probes::withoutCalibrators),
                 "C-NORMAL",
                 {{"C-NORMAL", a, "hold", "autoverify.measuring_range", "", ""}},
                 ""});
  // Without a Level column the three failing low QCs must still fail their level (2 of 5 low
  // QCs pass) although 6 of 9 QCs pass overall; Westgard off isolates run acceptance. A later
  // patient separates them from the second QC group, so L-NORMAL is bracketed by two passing
  // QC groups and only the run acceptance can stop it.
  out.push_back({"probes-failed-level.csv",
                 "probesnowg",
                 variant(base, "L",
                         [&](WideExport& e) {
                           e.rows.push_back(patient(e, base.normal, "L-LATE", kNone));
                           probes::appendFailingQcs(e, base.lowQc);
                           probes::retime(e);
                           probes::withoutLevelColumn(e);
                         }),
                 "L-NORMAL",
                 {{"L-NORMAL", a, "reject", "qc.run", "", ""}},
                 ""});
  // Sorted by name, no injection number, no acquisition time: the alphabetical order puts the
  // patient between two passing QC groups, which says nothing about when it was injected.
  out.push_back({"probes-unknown-order.txt",
                 "probesnowg",
                 readFile(probeData("probe_unknown_order_targetlynx.txt")),
                 "PRB_QC1_P01",
                 {{"PRB_QC1_P01", a, "hold", "", "", ""}},
                 "no injection order"});
  return out;
}

/// The corpus probes on the cortisone results (its curve passes; see the file comment).
std::vector<Batch> corpusBatches() {
  const Base base = corpusBase();
  const std::string a = "Cortisone";
  std::vector<Batch> out;
  out.push_back({"corpus-probes.csv",
                 "probesnowg",
                 patientProbes(base, "K"),
                 "K-NORMAL",
                 {
                     {"K-IS-10PCT", a, "", "peak.is_response", "", ""},
                     {"K-SN-LOW", a, "", "peak.signal_to_noise", "", ""},
                     {"K-TAILING", a, "", "peak.shape", "", ""},
                     {"K-ION-RATIO", a, "", "peak.ion_ratio", "", ""},
                     {"K-ABOVE-ULOQ", a, "", "", "DILUTE_AND_RERUN", ""},
                     {"K-AFTER-ULOQ", a, "", "", "CARRYOVER_SUSPECT", ""},
                     {"K-BELOW-LLOQ", a, "", "", "", "<*"},
                 },
                 ""});
  out.push_back({"corpus-no-qualifiers.csv",
                 "probesnowg",
                 variant(base, "KQ", probes::withoutQualifiers, true),
                 "KQ-NORMAL",
                 {{"KQ-NORMAL", a, "", "peak.export_data", "ion_ratio", ""},
                  {"KQ-ION-RATIO", a, "", "peak.export_data", "ion_ratio", ""}},
                 ""});
  out.push_back({"corpus-no-curve.csv",
                 "probesnowg",
                 variant(base, "KC", probes::withoutCalibrators),
                 "KC-NORMAL",
                 {{"KC-NORMAL", a, "", "autoverify.measuring_range", "", ""}},
                 ""});
  // Cortisol QC Low: 2 of 5 pass (fewer than half) while 7 of 10 pass overall: without the
  // Level column the failed level must still fail cortisol's run.
  out.push_back({"corpus-no-level.csv",
                 "probesnowg",
                 variant(base, "KL", probes::withoutLevelColumn),
                 "KL-NORMAL",
                 {{"KL-NORMAL", "Cortisol", "reject", "qc.run", "", ""}},
                 ""});
  return out;
}

std::string corpusTargetLynxSummary() {
  return sharedDir() + "/corpus/lcms/waters_targetlynx/msparser_TRY_QuantifyCompoundSummary.TXT";
}

/// The TargetLynx corpus summary (tryptophan and 34 other compounds, sorted by sample name, with
/// the injection number `#`) with made-up patients in the tryptophan block, injected after the
/// batch (901, 902). The file has no qualifier, S/N, symmetry or width columns.
std::string targetLynxProbes(const std::string& tag, bool withoutInjectionNumbers) {
  const std::string templ = "coeliac_C1_SER_MS-TRY_PAT01_COEp11_070721_COE00001_01-GEMM-001-12_20";
  probes::CompoundSummary s = probes::CompoundSummary::parse(readFile(corpusTargetLynxSummary()));
  auto none = [](const std::vector<std::string>&, std::vector<std::string>&) {};
  // Ion suppression: area and IS area at a tenth, so the response and concentration stay.
  auto isAtTenPercent = [](const std::vector<std::string>& header, std::vector<std::string>& row) {
    for (const char* column : {"Area", "IS Area"}) {
      if (auto c = probes::CompoundSummary::cellOf(header, column); c && *c < row.size()) {
        row[*c] = std::to_string(std::strtod(row[*c].c_str(), nullptr) / 10);
      }
    }
  };
  EXPECT_TRUE(s.addPatient("tryptophan", templ, tag + "-NORMAL", 901, none));
  EXPECT_TRUE(s.addPatient("tryptophan", templ, tag + "-IS-10PCT", 902, isAtTenPercent));
  if (withoutInjectionNumbers) s.withoutInjectionNumbers();
  return s.txt();
}

/// The TargetLynx corpus probes: every patient of this batch is rejected (its curves and QC
/// fail), so the findings are asserted.
std::vector<Batch> corpusTargetLynxBatches() {
  const std::string a = "tryptophan";
  std::vector<Batch> out;
  out.push_back({"corpus-targetlynx-probes.txt",
                 "probesnowg",
                 targetLynxProbes("TL", false),
                 "TL-NORMAL",
                 {{"TL-NORMAL", a, "", "peak.export_data", "ion_ratio", ""},
                  {"TL-IS-10PCT", a, "", "peak.is_response", "", ""}},
                 ""});
  // The same summary without `#`: sorted by name, the order of injection is unknown.
  out.push_back({"corpus-targetlynx-no-injection.txt",
                 "probesnowg",
                 targetLynxProbes("TLO", true),
                 "TLO-NORMAL",
                 {{"TLO-NORMAL", a, "", "", "", ""}},
                 "no injection order"});
  return out;
}

class AutoverifyProbes : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    const std::string mappings = tmp_->file("probe-mappings.csv");
    writeFile(mappings,
              "instrument_code,lis_code,lis_name,units,decimals\n"
              "Probamol,PRB,Probamol (probe),ng/mL,\n"
              "Corticosterone,CORTCO,Corticosterone,ng/mL,\n"
              "Cortisol,CORTMS,Cortisol,ng/mL,\n"
              "Cortisone,CRTSNMS,Cortisone,ng/mL,\n"
              "tryptophan,TRP,Tryptophan,,\n");
    config_.connectors.clear();
    addConnector("probes", mappings, rules(true));
    addConnector("probesnowg", mappings, rules(false));
  }

  /// The shipped clinical profile with what a site adds before it starts: QC targets for the
  /// synthetic analyte (its QCs sit at their nominal: mean = nominal, SD 5 %) and critical limits
  /// for every probe analyte. With `westgard` false, Westgard is off.
  std::string rules(bool westgard) {
    std::string text = readFile(sourceDir() + "/config/rules/lcms-default.json");
    auto replace = [&](const std::string& from, const std::string& to) {
      const size_t at = text.find(from);
      EXPECT_NE(at, std::string::npos) << "the clinical profile no longer says " << from;
      if (at != std::string::npos) text.replace(at, from.size(), to);
    };
    const std::string critical = R"("limits": {"critical_low": 0, "critical_high": 100000})";
    // Probamol: the lab's fixed ion-ratio reference (the calibrators' 40 %), so that a batch
    // without calibrators still has one; its export (MassHunter's wide form) carries no IS
    // retention time, which the lab declares (otherwise every patient holds, PEAK_DATA_MISSING).
    replace(
        R"("analytes": {})",
        R"("analytes": {"Probamol": {"peak": {"ion_ratio_reference": 0.40, )"
        R"("not_applicable": ["is_rt_window"]}, )" +
            critical +
            R"(, "qc_targets": {"Low": {"mean": 3, "sd": 0.15}, "Mid": {"mean": 30, "sd": 1.5},)"
            R"( "High": {"mean": 80, "sd": 4}}}, "Corticosterone": {)" +
            critical + R"(}, "Cortisol": {)" + critical + R"(}, "Cortisone": {)" + critical + "}}");
    if (!westgard) replace(R"("westgard": true)", R"("westgard": false)");
    std::string path = tmp_->file(westgard ? "probes.json" : "probes-nowg.json");
    writeFile(path, text);
    return path;
  }

  void addConnector(const std::string& name, const std::string& mappings,
                    const std::string& rulesPath) {
    ConnectorConfig c;
    c.name = name;
    c.kind = "file-drop";
    c.instrument = "qqq-probe";
    c.mappings = mappings;
    inboxes_[name] = tmp_->file("inbox-" + name);
    Poco::File(inboxes_[name]).createDirectories();
    c.extra = {
        {"inbox", inboxes_[name]}, {"poll_ms", "100"}, {"settle_ms", "300"}, {"rules", rulesPath}};
    config_.connectors.push_back(c);
    config_.omit("connector." + name + ".listen");
    config_.omit("connector." + name + ".astm.receive_timeout_seconds");
  }

  BatchOutcome dryRun(const Batch& batch) {
    config_.write(configPath_);
    const std::string input = tmp_->file(batch.file);
    writeFile(input, batch.text);
    ProgramRun run =
        runProgram(binDir() + "/labgate",
                   {"dry-run", "--config", configPath_, "--connector", batch.connector, input},
                   300000ms, tmp_->path());
    EXPECT_TRUE(run.finished);
    EXPECT_EQ(run.exitCode, 0) << run.err;
    return probes::fromDryRun(run.out.substr(0, run.out.find('\n')));
  }

  void throughDryRun(const std::vector<Batch>& batches) {
    for (const Batch& b : batches) check(dryRun(b), b, "labgate dry-run");
  }

  void throughTheEngine(const std::vector<Batch>& batches) {
    startLis();
    ASSERT_NO_FATAL_FAILURE(startEngine());
    for (const Batch& b : batches) {
      const std::string inbox = inboxes_.at(b.connector);
      writeFile(inbox + "/." + b.file + ".tmp", b.text);
      Poco::File(inbox + "/." + b.file + ".tmp").renameTo(inbox + "/" + b.file);
    }
    for (const Batch& b : batches) {
      const std::string inbox = inboxes_.at(b.connector);
      ASSERT_TRUE(waitUntil([&] { return fileExists(inbox + "/processed/" + b.file); }, 180000ms))
          << b.file << ": " << readFile(inbox + "/rejected/" + b.file + ".reason");
    }
    for (const Batch& b : batches) {
      check(probes::fromStore(config_.dataDir + "/labgate.db", b.anySample), b, "engine");
    }
  }

  std::map<std::string, std::string> inboxes_;
};

TEST_F(AutoverifyProbes, SyntheticProbesThroughDryRun) { throughDryRun(syntheticBatches()); }

TEST_F(AutoverifyProbes, SyntheticProbesThroughTheEngine) { throughTheEngine(syntheticBatches()); }

TEST_F(AutoverifyProbes, CorpusProbesThroughDryRun) {
  if (!fileExists(corpusClinicalBatch())) GTEST_SKIP() << "no ../shared corpus beside the checkout";
  throughDryRun(corpusBatches());
}

TEST_F(AutoverifyProbes, CorpusProbesThroughTheEngine) {
  if (!fileExists(corpusClinicalBatch())) GTEST_SKIP() << "no ../shared corpus beside the checkout";
  throughTheEngine(corpusBatches());
}

TEST_F(AutoverifyProbes, CorpusTargetLynxProbesThroughDryRun) {
  if (!fileExists(corpusTargetLynxSummary())) {
    GTEST_SKIP() << "no ../shared corpus beside the checkout";
  }
  throughDryRun(corpusTargetLynxBatches());
}

TEST_F(AutoverifyProbes, CorpusTargetLynxProbesThroughTheEngine) {
  if (!fileExists(corpusTargetLynxSummary())) {
    GTEST_SKIP() << "no ../shared corpus beside the checkout";
  }
  throughTheEngine(corpusTargetLynxBatches());
}

}  // namespace
}  // namespace labgate::it
