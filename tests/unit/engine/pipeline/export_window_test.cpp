// Tests for batch exports in bounded memory (docs/adr/0017-bounded-export-import.md): a format
// that hands its samples over as it reads is judged and stored window by window inside one
// commit. The pipeline never holds more than a window (plus one row and the carried calibrators);
// the stored batch is the one the whole-file path stores; a refusal or an invalid row at the end
// of the file leaves nothing stored.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "engine/pipeline/pipeline.h"
#include "mappings/mapping_set.h"

using namespace Poco::Data::Keywords;

namespace labgate {
namespace {

constexpr int kResultsPerRow = 5;

/// Rows of one injection each: rows 0 and 1 are calibrators, the rest patients. Each row's
/// samples are complete at once, and handed over by takeSamples() (as MassHunter's wide form).
class StreamingParse : public ExportParse {
 public:
  StreamingParse(int rows, int phiRow, int badRow, size_t* largestHeld)
      : rows_(rows), phiRow_(phiRow), badRow_(badRow), largestHeld_(largestHeld) {}

  StatusOr<bool> next(Record& record) override {
    if (row_ == rows_) return false;
    record.type = "row";
    record.ordinal = row_;
    record.line = row_ + 2;
    record.names = names_;
    record.fields.assign(3, Field{});
    std::string name = row_ == phiRow_ ? "Quillfeather Marisol" : "";
    record.fields[1] = Field(name, name);
    record.fields[2] = Field(std::to_string(row_), std::to_string(row_));
    ++row_;
    return true;
  }
  Status accept(const Record& record) override {
    if (record.line - 2 == badRow_) return Status::invalid("line 9", "a row the format refuses");
    Sample sample;
    const int n = record.line - 2;
    sample.sampleId = n < 2 ? "CAL-" + std::to_string(n + 1) : "S-" + std::to_string(n);
    sample.kind = n < 2 ? SampleKind::kCalibrator : SampleKind::kUnknown;
    sample.location = "line " + std::to_string(record.line);
    for (int i = 0; i < kResultsPerRow; ++i) {
      Result r;
      r.instrumentCode = i == 0 ? "TESTO" : "X" + std::to_string(i);
      r.value = std::to_string(n) + "." + std::to_string(i);
      r.numeric = n + i / 10.0;
      sample.results.push_back(std::move(r));
    }
    held_.samples.push_back(std::move(sample));
    *largestHeld_ = std::max(*largestHeld_, completeResults());
    return Status::ok();
  }
  StatusOr<Message> finish() override {
    Message m = std::move(held_);
    m.sender = "fake";
    return m;
  }
  size_t completeResults() const override { return held_.samples.size() * kResultsPerRow; }
  size_t takeSamples(Message& out) override {
    out.sender = "fake";
    const size_t n = held_.samples.size();
    for (Sample& s : held_.samples) out.samples.push_back(std::move(s));
    held_.samples.clear();
    return n;
  }

 private:
  int rows_, phiRow_, badRow_;
  size_t* largestHeld_;
  int row_ = 0;
  Message held_;
  std::shared_ptr<const std::vector<std::string>> names_ =
      std::make_shared<const std::vector<std::string>>(
          std::vector<std::string>{"", "Patient Name", "Injection"});
};

class StreamingFormat : public ExportFormat {
 public:
  StreamingFormat(int rows, int phiRow = -1, int badRow = -1)
      : rows_(rows), phiRow_(phiRow), badRow_(badRow) {}
  StatusOr<std::unique_ptr<ExportParse>> open(std::istream&) const override {
    return std::unique_ptr<ExportParse>(
        std::make_unique<StreamingParse>(rows_, phiRow_, badRow_, &largestHeld));
  }
  mutable size_t largestHeld = 0;

 private:
  int rows_, phiRow_, badRow_;
};

/// A rule set that needs the calibrators: a batch without one holds every result; each batch
/// gets the same batch finding and metric; records how many results each evaluation saw.
class CalibratedRules : public RulesStage {
 public:
  void evaluate(Message& message, const RulesContext&) const override {
    bool calibrated = false;
    size_t results = 0;
    for (const Sample& s : message.samples) {
      calibrated = calibrated || s.kind == SampleKind::kCalibrator;
      results += s.results.size();
    }
    evaluated.push_back(results);
    if (!calibrated) {
      for (Sample& s : message.samples) {
        for (Result& r : s.results) {
          Finding f;
          f.ruleId = "test.no_calibrator";
          r.findings.push_back(f);
        }
      }
    }
    Finding batch;
    batch.ruleId = "test.batch";
    batch.severity = Severity::kInfo;
    message.batchFindings.push_back({"TESTO", batch});
    message.metrics.push_back({"TESTO", "cal_slope", 1.5});
  }
  const std::string& version() const override { return version_; }
  mutable std::vector<size_t> evaluated;

 private:
  std::string version_ = "test-1";
};

class RecordingDestination : public Destination {
 public:
  std::string render(const Message& released, const std::string& controlId,
                     const std::string&) const override {
    std::string out = controlId;
    for (const auto& s : released.samples)
      for (const auto& r : s.results) out += "|" + s.sampleId + ":" + r.lisCode + "=" + r.value;
    return out;
  }
  Delivery deliver(const OutboundItem&) override { return {}; }
};

class ExportWindowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    store_ = Store::open(dir_).value();
    auto gate =
        phi::PhiGate::loadFile(std::string(LABGATE_SOURCE_DIR) + "/config/phi-patterns.json");
    ASSERT_TRUE(gate.isOk()) << gate.status().toString();
    auto mappings = MappingSet::parseCsv(
        "instrument_code,lis_code,lis_name,units,decimals\nTESTO,L-TES,Testosterone,ng/dL,1\n",
        "test.csv");
    ASSERT_TRUE(mappings.isOk()) << mappings.status().toString();
    profile_.name = "lcms1";
    profile_.instrument = "tq-01";
    profile_.mappings = std::make_shared<const MappingSet>(mappings.value());
    profile_.destinations = {"lis"};
    profile_.deduplicate = true;
    pipeline_ = std::make_unique<Pipeline>(
        store_, std::make_shared<const phi::PhiGate>(gate.value()),
        Pipeline::DestinationMap{{"lis", std::make_shared<RecordingDestination>()}});
  }
  void TearDown() override {
    pipeline_.reset();
    store_.reset();
    Poco::File(dir_).remove(true);
  }

  Intake import(const std::shared_ptr<StreamingFormat>& format, const std::string& sha) {
    in_ = std::make_unique<std::istringstream>("unused");
    ExportJob job;
    job.in = in_.get();
    job.format = format;
    job.formatName = "fake";
    job.fileName = "batch.csv";
    job.peer = "file-drop";
    job.contentSha256 = sha;
    return pipeline_->processExport(job, profile_);
  }

  int count(const std::string& sql) {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", store_->path());
    int n = 0;
    s << sql, into(n), now;
    return n;
  }

  /// The stored batch `message`, one line per result with its sample, disposition and findings.
  std::string dump(int64_t message) {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", store_->path());
    std::vector<std::string> lines;
    s << "SELECT s.sample_id || ' ' || s.kind || ' ' || r.instrument_code || ' ' || r.lis_code "
         "|| ' ' || r.value || ' ' || r.disposition || ' ' || COALESCE((SELECT "
         "group_concat(f.rule_id) FROM findings f WHERE f.result_id = r.id), '') FROM results r "
         "JOIN samples s ON s.id = r.sample_row_id WHERE r.message_id = ? ORDER BY r.id",
        use(message), into(lines), now;
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }

  /// Every result the destination was sent, over all outbound messages of `message`, in order.
  std::string sent(int64_t message) {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", store_->path());
    std::vector<std::string> payloads;
    s << "SELECT payload FROM outbound WHERE message_id = ? ORDER BY id", use(message),
        into(payloads), now;
    std::string out;
    for (const auto& p : payloads) out += p.substr(std::min(p.find('|'), p.size()));
    return out;
  }

  std::string dir_;
  std::shared_ptr<Store> store_;
  ConnectorProfile profile_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<std::istringstream> in_;
};

TEST_F(ExportWindowTest, LargeExportIsStoredWholeWhileHoldingAtMostAWindow) {
  pipeline_->setExportWindow(100);
  auto format = std::make_shared<StreamingFormat>(1000);
  Intake intake = import(format, "aaa");
  ASSERT_EQ(intake.outcome, Intake::Outcome::kAccepted) << intake.status.toString();
  EXPECT_EQ(intake.results, 5000u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM samples"), 1000);
  EXPECT_EQ(count("SELECT COUNT(*) FROM results"), 5000);
  EXPECT_EQ(count("SELECT sample_count FROM messages"), 1000);
  EXPECT_EQ(count("SELECT result_count FROM messages"), 5000);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'message.accepted'"), 1);
  // The parse never held more than a window and the row that filled it; the pipeline never
  // judged more than that at once.
  EXPECT_LE(format->largestHeld, 100u + kResultsPerRow);
  EXPECT_GT(pipeline_->largestExportWindow(), 0u);
  EXPECT_LE(pipeline_->largestExportWindow(), 100u + kResultsPerRow);
  // Four of five results are unmapped (held); TESTO of each patient goes out, in file order,
  // one outbound message per window.
  EXPECT_GE(count("SELECT COUNT(*) FROM outbound"), 10);
  EXPECT_EQ(count("SELECT COUNT(*) FROM results WHERE disposition = 'release'"), 1000);
  std::string out = sent(1);
  EXPECT_EQ(std::count(out.begin(), out.end(), '|'), 998);
  EXPECT_LT(out.find("|S-2:L-TES=2.0"), out.find("|S-999:L-TES=999.0"));
}

TEST_F(ExportWindowTest, WindowedBatchIsStoredAsTheWholeFileIs) {
  pipeline_->setExportWindow(0);  // held whole, as before
  Intake whole = import(std::make_shared<StreamingFormat>(300), "whole");
  ASSERT_EQ(whole.outcome, Intake::Outcome::kAccepted) << whole.status.toString();
  pipeline_->setExportWindow(37);
  Intake windowed = import(std::make_shared<StreamingFormat>(300), "windowed");
  ASSERT_EQ(windowed.outcome, Intake::Outcome::kAccepted) << windowed.status.toString();
  EXPECT_EQ(windowed.results, whole.results);
  EXPECT_EQ(windowed.held, whole.held);
  EXPECT_EQ(dump(windowed.messageId), dump(whole.messageId));
  EXPECT_EQ(sent(windowed.messageId), sent(whole.messageId));
  EXPECT_FALSE(dump(whole.messageId).empty());
}

TEST_F(ExportWindowTest, WindowsAreJudgedWithTheCalibratorsCarriedIn) {
  auto rules = std::make_shared<CalibratedRules>();
  profile_.rules = rules;
  pipeline_->setExportWindow(50);
  Intake intake = import(std::make_shared<StreamingFormat>(200), "bbb");
  ASSERT_EQ(intake.outcome, Intake::Outcome::kAccepted) << intake.status.toString();
  ASSERT_GT(rules->evaluated.size(), 10u);
  for (size_t results : rules->evaluated) EXPECT_LE(results, 50u + kResultsPerRow + 10u);
  // Every window had the calibrators: no result was held for the lack of them...
  EXPECT_EQ(count("SELECT COUNT(*) FROM findings WHERE rule_id = 'test.no_calibrator'"), 0);
  // ...and they were stored once, with the batch's own samples.
  EXPECT_EQ(count("SELECT COUNT(*) FROM samples WHERE kind = 'calibrator'"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM samples"), 200);
  // The same batch finding and metric of every window, kept once.
  EXPECT_EQ(count("SELECT COUNT(*) FROM batch_findings"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM batch_metrics"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE rules_version = 'test-1'"), 1);
}

TEST_F(ExportWindowTest, PatientValueInTheLastRowRefusesTheWholeFile) {
  pipeline_->setExportWindow(100);
  Intake intake = import(std::make_shared<StreamingFormat>(500, 499), "ccc");
  EXPECT_EQ(intake.outcome, Intake::Outcome::kRefused);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM samples"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM results"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbound"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'message.refused'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE detail LIKE '%Quillfeather%'"), 0);
}

TEST_F(ExportWindowTest, InvalidRowLateInTheFileStoresNothing) {
  pipeline_->setExportWindow(100);
  Intake intake = import(std::make_shared<StreamingFormat>(500, -1, 450), "ddd");
  EXPECT_EQ(intake.outcome, Intake::Outcome::kInvalid);
  EXPECT_EQ(intake.status.location(), "line 9");
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM results"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'message.invalid'"), 1);
  // The next file imports (the writer is not left in a transaction).
  Intake next = import(std::make_shared<StreamingFormat>(300), "eee");
  EXPECT_EQ(next.outcome, Intake::Outcome::kAccepted) << next.status.toString();
  EXPECT_EQ(count("SELECT COUNT(*) FROM results"), 1500);
}

TEST_F(ExportWindowTest, SameContentAgainIsADuplicate) {
  pipeline_->setExportWindow(100);
  ASSERT_EQ(import(std::make_shared<StreamingFormat>(300), "fff").outcome,
            Intake::Outcome::kAccepted);
  EXPECT_EQ(import(std::make_shared<StreamingFormat>(300), "fff").outcome,
            Intake::Outcome::kDuplicate);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 1);
}

}  // namespace
}  // namespace labgate
