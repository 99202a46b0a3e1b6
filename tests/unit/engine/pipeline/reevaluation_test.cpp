// Tests for engine/pipeline/reevaluation.h and engine/store/reevaluation_store.h with a real store
// in a temporary directory: a stored batch is rebuilt with everything the rules read; after a
// mapping fix, reevaluateHeldForMapping releases (and queues) the result held only for its code,
// leaves alone a result held for other reasons too, keeps the replaced findings, audits, and finds
// nothing to do the second time.
#include "engine/pipeline/reevaluation.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include "mappings/mapping_set.h"

using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace)

namespace labgate {
namespace {

class EchoDestination : public Destination {
 public:
  std::string render(const Message& released, const std::string& controlId,
                     const std::string&) const override {
    std::string out = controlId;
    for (const auto& s : released.samples) {
      for (const auto& r : s.results) out += "|" + r.lisCode + "=" + r.value;
    }
    return out;
  }
  Delivery deliver(const OutboundItem&) override { return {}; }
};

Finding finding(const std::string& rule) {
  return {rule, Severity::kWarning, "result", rule + " finding", "m", "l"};
}

std::shared_ptr<const MappingStage> mappingOf(const std::string& rows) {
  auto parsed =
      MappingSet::parseCsv("instrument_code,lis_code,lis_name,units,decimals\n" + rows, "t.csv");
  EXPECT_TRUE(parsed.isOk()) << parsed.status().toString();
  return std::make_shared<const MappingSet>(parsed.value());
}

class ReevaluationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    store_ = Store::open(dir_).value();
    profile_ = std::make_shared<ConnectorProfile>();
    profile_->name = "lab1";
    profile_->instrument = "tq-01";
    profile_->destinations = {"lis"};
    profile_->mappings = mappingOf("GLU,2345-7,Glucose,mmol/L,1\n");
    reevaluator_ = std::make_unique<Reevaluator>(
        store_, Pipeline::DestinationMap{{"lis", std::make_shared<EchoDestination>()}},
        [this](const std::string& connector) -> std::shared_ptr<const ConnectorProfile> {
          return connector == "lab1" ? profile_ : nullptr;
        },
        [this] { ++wakes_; });
  }
  void TearDown() override {
    reevaluator_.reset();
    store_.reset();
    Poco::File(dir_).remove(true);
  }

  /// A batch as the pipeline would store it: GLU released; ZZA held only as unmapped; ZZB held as
  /// unmapped and by a rule; a calibrator peak with what only the rules read.
  int64_t storeBatch() {
    InboundCommit c;
    c.connector = "lab1";
    c.instrument = "tq-01";
    c.format = "astm";
    c.receivedAt = "2026-12-07T10:00:00.000Z";
    c.contentSha256 = "00";
    Message& m = c.message;
    m.controlId = "C1";
    m.listedInRunOrder = true;
    m.curves.push_back({"GLU", "Quadratic", "1/x^2", "Exclude"});
    Sample cal;
    cal.sampleId = "CAL1";
    cal.kind = SampleKind::kCalibrator;
    cal.injection = 3;
    Result calResult;
    calResult.instrumentCode = "GLU";
    calResult.value = "1.0";
    Peak p;
    p.area = 1234.5;
    p.finalConcentration = 2.5;
    p.integrationCode = "bb";
    p.excludedFromCurve = true;
    calResult.peak = p;
    cal.results.push_back(calResult);
    Sample s;
    s.sampleId = "S-1";
    Result glu;
    glu.instrumentCode = "GLU";
    glu.lisCode = "2345-7";
    glu.value = "5.14";
    glu.units = "mmol/L";
    Result zza;
    zza.instrumentCode = "ZZA";
    zza.value = "1";
    zza.findings = {finding("mapping.unmapped")};
    Result zzb;
    zzb.instrumentCode = "ZZB";
    zzb.value = "2";
    zzb.findings = {finding("mapping.unmapped"), finding("autoverify.critical")};
    s.results = {glu, zza, zzb};
    m.samples = {cal, s};
    c.dispositions.resize(4);
    c.dispositions[2].kind = DispositionKind::kHold;
    c.dispositions[3].kind = DispositionKind::kHold;
    auto receipt = store_->commitInbound(c);
    EXPECT_TRUE(receipt.isOk()) << receipt.status().toString();
    return receipt.isOk() ? receipt->messageId : 0;
  }

  int count(const std::string& sql) {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", store_->path());
    int n = 0;
    s << sql, into(n), now;
    return n;
  }

  std::string dir_;
  std::shared_ptr<Store> store_;
  std::shared_ptr<ConnectorProfile> profile_;
  std::unique_ptr<Reevaluator> reevaluator_;
  int wakes_ = 0;
};

TEST_F(ReevaluationTest, AStoredBatchIsRebuiltWithWhatTheRulesRead) {
  const int64_t id = storeBatch();
  std::optional<StoredBatch> b = ReevaluationStore(store_).batch("default", id);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->canonical);
  EXPECT_EQ(b->connector, "lab1");
  EXPECT_TRUE(b->message.listedInRunOrder);
  ASSERT_EQ(b->message.curves.size(), 1u);
  EXPECT_EQ(b->message.curves[0].model, "Quadratic");
  EXPECT_EQ(b->message.curves[0].origin, "Exclude");
  ASSERT_EQ(b->message.samples.size(), 2u);
  EXPECT_EQ(b->message.samples[0].kind, SampleKind::kCalibrator);
  EXPECT_EQ(b->message.samples[0].injection, std::optional<int64_t>(3));
  const Result& cal = b->message.samples[0].results.at(0);
  ASSERT_TRUE(cal.peak);
  EXPECT_EQ(cal.peak->area, std::optional<double>(1234.5));
  EXPECT_EQ(cal.peak->finalConcentration, std::optional<double>(2.5));
  EXPECT_EQ(cal.peak->integrationCode, "bb");
  EXPECT_TRUE(cal.peak->excludedFromCurve);
  ASSERT_EQ(b->rows.size(), 4u);
  EXPECT_EQ(b->rows[2].disposition, "hold");
  ASSERT_EQ(b->message.samples[1].results.at(2).findings.size(), 2u);
  EXPECT_EQ(b->message.samples[1].results.at(2).findings[1].ruleId, "autoverify.critical");
  EXPECT_FALSE(ReevaluationStore(store_).batch("other-org", id)) << "another organisation's";
}

TEST_F(ReevaluationTest, AfterAMappingFixOnlyResultsHeldForMappingAloneAreReleased) {
  const int64_t id = storeBatch();
  ReevaluationStore batches(store_);
  EXPECT_EQ(batches.heldForMapping("default", "lab1"), std::vector<int64_t>{id});

  profile_->mappings = mappingOf("GLU,2345-7,Glucose,mmol/L,1\nZZA,1-1,A,,0\nZZB,2-2,B,,0\n");
  std::vector<ReevaluationOutcome> done =
      reevaluator_->reevaluateHeldForMapping("default", {"lab1"}, "configuration", "set activated");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].committed);
  EXPECT_EQ(done[0].changed, 1);
  EXPECT_EQ(done[0].released, 1);
  EXPECT_EQ(done[0].outbound, 1);
  EXPECT_EQ(wakes_, 1);

  EXPECT_EQ(count("SELECT COUNT(*) FROM results WHERE instrument_code = 'ZZA' AND disposition = "
                  "'release' AND lis_code = '1-1'"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM results WHERE instrument_code = 'ZZB' AND disposition = "
                  "'hold' AND lis_code = ''"),
            1)
      << "a result held for another reason too is left as it is";
  EXPECT_EQ(count("SELECT COUNT(*) FROM findings f JOIN results r ON r.id = f.result_id WHERE "
                  "r.instrument_code = 'ZZB'"),
            2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM findings f JOIN results r ON r.id = f.result_id WHERE "
                  "r.instrument_code = 'ZZA'"),
            0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM findings_history WHERE rule_id = 'mapping.unmapped'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbound WHERE payload LIKE '%|1-1=1' AND payload NOT "
                  "LIKE '%2345-7%'"),
            1)
      << "only the newly released result is sent";
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'batch.reevaluated' AND actor = "
                  "'configuration' AND subject = 'batch:" +
                  std::to_string(id) + "' AND detail LIKE '%\"cause\":\"mapping_activation\"%'"),
            1);
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
  EXPECT_TRUE(batches.heldForMapping("default", "lab1").empty());
  EXPECT_TRUE(reevaluator_->reevaluateHeldForMapping("default", {"lab1"}, "configuration", "again")
                  .empty());
}

TEST_F(ReevaluationTest, ACandidateIsOnlyTriedAndAnUnknownConnectorIsUnavailable) {
  const int64_t id = storeBatch();
  ReevaluationRequest request;
  request.batchId = id;
  request.actor = "user:x";
  request.reason = "r";
  request.commit = true;
  request.mappings = mappingOf("ZZA,1-1,A,,0\n");
  EXPECT_EQ(reevaluator_->reevaluate(request).status().code(), Status::Code::kInvalid);
  request.commit = false;
  auto tried = reevaluator_->reevaluate(request);
  ASSERT_TRUE(tried.isOk());
  // Every waiting result may change: ZZA is released, ZZB loses the finding of a rule set the
  // connector no longer has but stays held (still unmapped).
  EXPECT_EQ(tried->changed, 2);
  EXPECT_EQ(tried->released, 1);
  EXPECT_FALSE(tried->committed);
  EXPECT_EQ(count("SELECT COUNT(*) FROM results WHERE disposition = 'hold'"), 2);
  profile_ = nullptr;
  EXPECT_EQ(reevaluator_->reevaluate(request).status().code(), Status::Code::kUnavailable);
  request.batchId = id + 100;
  EXPECT_EQ(reevaluator_->reevaluate(request).status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace labgate
