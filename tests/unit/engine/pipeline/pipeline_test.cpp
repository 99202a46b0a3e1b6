// Tests for engine/pipeline: the decide stage, the released part, and the runner's outcomes
// (accepted, refused with an audit event and nothing else stored, stripped, held, invalid),
// with a fake codec and destination and a real store in a temporary directory.
#include "engine/pipeline/pipeline.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "mappings/mapping_set.h"

using namespace Poco::Data::Keywords;

namespace labgate {
namespace {

constexpr const char* kInventedName = "Quixbyrne";

/// Returns a fixed document; builds one sample with results named by the document's R records.
class FakeCodec : public FormatCodec {
 public:
  explicit FakeCodec(Document doc, bool parseFails = false)
      : doc_(std::move(doc)), parseFails_(parseFails) {}
  StatusOr<Document> parse(std::string_view) const override {
    if (parseFails_) return Status::invalid("record 1", "not an ASTM message");
    return doc_;
  }
  const std::string& formatTag() const override {
    static const std::string tag = "astm";
    return tag;
  }
  StatusOr<Message> build(const Document& document) const override {
    Message m;
    m.controlId = "C1";
    Sample s;
    s.sampleId = "S-100";
    for (const Record& r : document.records) {
      if (r.type != "R") continue;
      Result result;
      result.instrumentCode = r.raw(3);
      result.value = r.raw(4);
      s.results.push_back(result);
    }
    m.samples.push_back(s);
    return m;
  }

 private:
  Document doc_;
  bool parseFails_;
};

class FakeDestination : public Destination {
 public:
  std::string render(const Message& released, const std::string& controlId,
                     const std::string&) const override {
    std::string out = controlId;
    for (const auto& s : released.samples)
      for (const auto& r : s.results) out += "|" + r.lisCode + "=" + r.value;
    return out;
  }
  Delivery deliver(const OutboundItem&) override { return {}; }
};

Record record(const std::string& type, int ordinal, std::vector<std::string> fields) {
  Record r;
  r.type = type;
  r.ordinal = ordinal;
  r.fields.push_back({type, type});  // fields[0]
  r.fields.push_back({type, type});  // field 1 (the record type)
  for (auto& f : fields) r.fields.push_back({f, f});
  return r;
}

Document document(const std::string& patientName, const std::vector<std::string>& codes) {
  Document d;
  d.records.push_back(record("H", 0, {"\\^&", "", "", "TQ"}));
  d.records.push_back(record("P", 1, {"1", "", "", "", patientName}));
  int ordinal = 2;
  d.records.push_back(record("O", ordinal++, {"1", "S-100"}));
  for (const auto& code : codes) d.records.push_back(record("R", ordinal++, {"1", code, "4.2"}));
  d.records.push_back(record("L", ordinal, {"1", "N"}));
  return d;
}

class PipelineTest : public ::testing::Test {
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
    profile_.name = "lab1";
    profile_.instrument = "tq-01";
    profile_.mappings = std::make_shared<const MappingSet>(mappings.value());
    profile_.destinations = {"lis"};
    pipeline_ = std::make_unique<Pipeline>(
        store_, std::make_shared<const phi::PhiGate>(gate.value()),
        Pipeline::DestinationMap{{"lis", std::make_shared<FakeDestination>()}});
  }
  void TearDown() override {
    pipeline_.reset();
    store_.reset();
    Poco::File(dir_).remove(true);
  }

  int count(const std::string& sql) {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", store_->path());
    int n = 0;
    s << sql, into(n), now;
    return n;
  }

  std::string firstFinding() {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", store_->path());
    std::string rule, measured, limit;
    s << "SELECT rule_id, measured, limit_value FROM findings LIMIT 1", into(rule), into(measured),
        into(limit), now;
    return rule + " " + measured + " " + limit;
  }

  Envelope envelope() {
    Envelope e;
    e.bytes = "H|\\^&";
    e.connectorId = "lab1";
    e.peer = "127.0.0.1:1";
    return e;
  }

  std::string dir_;
  std::shared_ptr<Store> store_;
  ConnectorProfile profile_;
  std::unique_ptr<Pipeline> pipeline_;
};

TEST_F(PipelineTest, CleanMappedMessageIsAcceptedAndQueued) {
  Intake in = pipeline_->process(envelope(), profile_, FakeCodec(document("", {"TESTO"})));
  ASSERT_TRUE(in.accepted()) << in.status.toString();
  EXPECT_EQ(in.results, 1u);
  EXPECT_EQ(in.held, 0u) << firstFinding();
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbound WHERE payload LIKE '%L-TES=4.2%'"), 1);
}

TEST_F(PipelineTest, PhiIsRefusedWithOneAuditEventAndNothingElse) {
  Intake in =
      pipeline_->process(envelope(), profile_, FakeCodec(document(kInventedName, {"TESTO"})));
  EXPECT_EQ(in.outcome, Intake::Outcome::kRefused);
  EXPECT_EQ(in.status.location(), "P-6");
  EXPECT_EQ(in.status.toString().find(kInventedName), std::string::npos);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbound"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'message.refused' AND detail LIKE "
                  "'%P-6%' AND detail LIKE '%S-100%'"),
            1);
  EXPECT_EQ(
      count(std::string("SELECT COUNT(*) FROM audit WHERE detail LIKE '%") + kInventedName + "%'"),
      0);
}

TEST_F(PipelineTest, StripPolicyAcceptsAndRecordsWhatWasRemoved) {
  profile_.policy = phi::Policy::kStrip;
  Intake in =
      pipeline_->process(envelope(), profile_, FakeCodec(document(kInventedName, {"TESTO"})));
  ASSERT_TRUE(in.accepted()) << in.status.toString();
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'message.phi_stripped' AND detail "
                  "LIKE '%P-6%'"),
            1);
}

TEST_F(PipelineTest, UnmappedResultsAreHeldAndNotQueued) {
  Intake in = pipeline_->process(envelope(), profile_, FakeCodec(document("", {"UNKNOWN1"})));
  ASSERT_TRUE(in.accepted());
  EXPECT_EQ(in.held, 1u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbound"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM findings WHERE rule_id = 'mapping.unmapped'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM results WHERE disposition = 'hold'"), 1);
}

TEST_F(PipelineTest, MixedMessageSendsOnlyTheReleasedResults) {
  Intake in =
      pipeline_->process(envelope(), profile_, FakeCodec(document("", {"TESTO", "UNKNOWN1"})));
  ASSERT_TRUE(in.accepted());
  EXPECT_EQ(in.held, 1u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbound WHERE payload NOT LIKE '%UNKNOWN1%'"), 1);
}

TEST_F(PipelineTest, UnparseableInputIsInvalidAndStoresNothing) {
  Intake in = pipeline_->process(envelope(), profile_, FakeCodec(Document{}, true));
  EXPECT_EQ(in.outcome, Intake::Outcome::kInvalid);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'message.invalid' AND detail LIKE "
                  "'%record 1%'"),
            1);
}

// An export with a patient column on every one of 1,500 rows: under strip the column is dropped
// on every row and every row's result is kept (the 1,000-hit cap only shortens a refusal's list).
class ManyRowsParse : public ExportParse {
 public:
  StatusOr<bool> next(Record& record) override {
    if (row_ == kRows) return false;
    record.type = "column";
    record.ordinal = row_;
    record.line = row_ + 2;
    record.names = names_;
    record.fields.assign(3, Field{});
    record.fields[1] = Field("Quillfeather Marisol", "Quillfeather Marisol");
    record.fields[2] = Field("4.2", "4.2");
    ++row_;
    return true;
  }
  Status accept(const Record& record) override {
    if (!record.fields[1].raw().empty()) return Status::invalid("line", "a patient value got past");
    Result r;
    r.instrumentCode = "TESTO";
    r.value = record.fields[2].raw();
    sample_.results.push_back(r);
    return Status::ok();
  }
  StatusOr<Message> finish() override {
    Message m;
    m.sender = "fake";
    sample_.sampleId = "S-1";
    m.samples.push_back(sample_);
    return m;
  }
  static constexpr int kRows = 1500;

 private:
  int row_ = 0;
  Sample sample_;
  std::shared_ptr<const std::vector<std::string>> names_ =
      std::make_shared<const std::vector<std::string>>(
          std::vector<std::string>{"", "Patient Name", "Result"});
};

class ManyRowsFormat : public ExportFormat {
 public:
  StatusOr<std::unique_ptr<ExportParse>> open(std::istream&) const override {
    return std::unique_ptr<ExportParse>(std::make_unique<ManyRowsParse>());
  }
};

TEST_F(PipelineTest, StripReadsTheWholeExportHoweverManyHits) {
  profile_.policy = phi::Policy::kStrip;
  std::istringstream in("unused");
  ExportJob job;
  job.in = &in;
  job.format = std::make_shared<ManyRowsFormat>();
  job.formatName = "fake";
  job.fileName = "batch.csv";
  job.peer = "test";
  job.contentSha256 = "abc";
  Intake intake = pipeline_->processExport(job, profile_);
  ASSERT_EQ(intake.outcome, Intake::Outcome::kAccepted) << intake.status.toString();
  EXPECT_EQ(intake.results, static_cast<size_t>(ManyRowsParse::kRows));
  EXPECT_EQ(count("SELECT COUNT(*) FROM results"), ManyRowsParse::kRows);
  // Refused, the list of locations stops at 1,000.
  profile_.policy = phi::Policy::kRefuse;
  std::istringstream again("unused");
  job.in = &again;
  job.contentSha256 = "def";
  Intake refused = pipeline_->processExport(job, profile_);
  EXPECT_EQ(refused.outcome, Intake::Outcome::kRefused);
  EXPECT_EQ(refused.details.size(), 1000u);
}

TEST(Decide, AnyWarningHoldsInfoReleases) {
  Message m;
  Sample s;
  Result a, b, c;
  b.findings.push_back({"x", Severity::kInfo, "result", "", "", ""});
  c.findings.push_back({"y", Severity::kWarning, "result", "", "", ""});
  s.results = {a, b, c};
  m.samples.push_back(s);
  auto d = decideDispositions(m);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].kind, DispositionKind::kRelease);
  EXPECT_EQ(d[1].kind, DispositionKind::kRelease);
  EXPECT_EQ(d[2].kind, DispositionKind::kHold);
  Message released = releasedPart(m, d);
  ASSERT_EQ(released.samples.size(), 1u);
  EXPECT_EQ(released.samples[0].results.size(), 2u);
}

TEST(ControlId, UniqueAndFitsMsh10) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = newControlId();
    EXPECT_LE(id.size(), 20u);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
}  // namespace labgate
