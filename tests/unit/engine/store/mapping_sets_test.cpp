// Tests for engine/store/mapping_sets: versions numbered per set and never changed, the active
// version as the latest activation, activation conflicts, the organisation boundary, the file
// workflow (importFile: a changed file a new version and activated, an unchanged one nothing, an
// API activation kept while the file is unchanged), the audit events, and the set names.
#include "engine/store/mapping_sets.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include "engine/store/store.h"

using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace): SQL keywords

namespace labgate {
namespace {

const std::string kHeader = "instrument_code,lis_code,lis_name,units,decimals\n";

class MappingSetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Poco::Data::SQLite::Connector::registerConnector();
    dir_ = Poco::TemporaryFile::tempName();
    auto opened = Store::open(dir_);
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = opened.value();
    sets_ = std::make_unique<MappingSetStore>(store_);
  }
  void TearDown() override {
    sets_.reset();
    store_.reset();
    Poco::File(dir_).remove(true);
  }

  int64_t add(const std::string& org, const std::string& name, const std::string& csv) {
    StatusOr<int64_t> v =
        sets_->addVersion(org, name, csv, 1, "", AuditEvent{org, "user:alice", "", "", ""});
    EXPECT_TRUE(v.isOk()) << v.status().toString();
    return v.isOk() ? v.value() : 0;
  }

  StatusOr<MappingSetActivation> activate(const std::string& org, const std::string& name,
                                          int64_t version,
                                          std::optional<int64_t> expected = std::nullopt) {
    MappingActivationDraft d;
    d.orgId = org;
    d.setName = name;
    d.version = version;
    d.expectedPrevious = expected;
    d.activation.activatedBy = "user:alice";
    d.audit = AuditEvent{org, "user:alice", "", "", ""};
    return sets_->activate(d);
  }

  int64_t count(const std::string& sql) {
    Poco::Data::Session s("SQLite", dir_ + "/labgate.db");
    int64_t n = 0;
    s << sql, into(n), now;
    return n;
  }

  std::string dir_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<MappingSetStore> sets_;
};

TEST_F(MappingSetStoreTest, VersionsAreNumberedPerSetAndActivationsKeptInOrder) {
  EXPECT_EQ(add("default", "panel", kHeader + "A,1,,,\n"), 1);
  EXPECT_EQ(add("default", "panel", kHeader + "A,2,,,\n"), 2);
  EXPECT_EQ(add("default", "other", kHeader), 1);
  EXPECT_FALSE(sets_->activeVersion("default", "panel")) << "an upload does not activate";

  StatusOr<MappingSetActivation> a = activate("default", "panel", 1);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(a.value().previousVersion, 0);
  a = activate("default", "panel", 2, 1);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(a.value().previousVersion, 1);
  std::optional<MappingSetVersion> active = sets_->activeVersion("default", "panel");
  ASSERT_TRUE(active);
  EXPECT_EQ(active->version, 2);
  EXPECT_EQ(active->csv, kHeader + "A,2,,,\n");
  EXPECT_EQ(active->sha256, sha256Hex(kHeader + "A,2,,,\n"));

  std::optional<MappingSetDetail> d = sets_->get("default", "panel");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->versions.size(), 2u);
  ASSERT_EQ(d->activations.size(), 2u);
  EXPECT_EQ(d->activations[1].version, 2);
  EXPECT_EQ(d->summary.latestVersion, 2);
  ASSERT_EQ(sets_->list("default").size(), 2u);
  EXPECT_EQ(sets_->list("default")[1].name, "panel");

  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'mapping_set.version_created'"), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'mapping_set.activated' AND detail "
                  "LIKE '%\"old\":1,\"new\":2%'"),
            1);
}

TEST_F(MappingSetStoreTest, ActivationConflictsAndTheOrganisationBoundary) {
  add("default", "panel", kHeader);
  ASSERT_TRUE(activate("default", "panel", 1).isOk());
  EXPECT_EQ(activate("default", "panel", 1).status().code(), Status::Code::kRejected)
      << "already active";
  add("default", "panel", kHeader + "B,1,,,\n");
  EXPECT_EQ(activate("default", "panel", 2, 0).status().code(), Status::Code::kRejected)
      << "another version was activated since the caller read the set";
  EXPECT_EQ(activate("default", "panel", 9).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(activate("lab2", "panel", 1).status().code(), Status::Code::kNotFound)
      << "another organisation's set";
  EXPECT_FALSE(sets_->get("lab2", "panel"));
  EXPECT_FALSE(sets_->version("lab2", "panel", 1));
  EXPECT_TRUE(sets_->list("lab2").empty());
}

TEST_F(MappingSetStoreTest, VersionsAndActivationsCannotBeChangedOrDeleted) {
  add("default", "panel", kHeader);
  ASSERT_TRUE(activate("default", "panel", 1).isOk());
  Poco::Data::Session s("SQLite", dir_ + "/labgate.db");
  EXPECT_ANY_THROW((s << "UPDATE mapping_set_versions SET csv_text = 'x'", now));
  EXPECT_ANY_THROW((s << "DELETE FROM mapping_set_versions", now));
  EXPECT_ANY_THROW((s << "UPDATE mapping_set_activations SET version = 7", now));
  EXPECT_ANY_THROW((s << "DELETE FROM mapping_set_activations", now));
}

TEST_F(MappingSetStoreTest, AFileBecomesAVersionWhenItChanges) {
  const std::string v1 = kHeader + "A,1,,,\n";
  StatusOr<std::optional<int64_t>> r = sets_->importFile("default", "lab1", v1, 1, "lab1.csv");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r.value(), std::optional<int64_t>(1));
  r = sets_->importFile("default", "lab1", v1, 1, "lab1.csv");
  ASSERT_TRUE(r.isOk());
  EXPECT_FALSE(r.value()) << "an unchanged file changes nothing";

  // A version activated through the API stays while the file is unchanged.
  add("default", "lab1", kHeader + "A,api,,,\n");
  ASSERT_TRUE(activate("default", "lab1", 2).isOk());
  r = sets_->importFile("default", "lab1", v1, 1, "lab1.csv");
  ASSERT_TRUE(r.isOk());
  EXPECT_FALSE(r.value());
  EXPECT_EQ(sets_->activeVersion("default", "lab1")->version, 2);

  // The file changed: version 3, by the configuration, active.
  r = sets_->importFile("default", "lab1", kHeader + "A,3,,,\n", 1, "lab1.csv");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r.value(), std::optional<int64_t>(3));
  std::optional<MappingSetDetail> d = sets_->get("default", "lab1");
  ASSERT_TRUE(d && d->versions.size() == 3);
  EXPECT_EQ(d->versions[2].createdBy, "configuration");
  EXPECT_EQ(d->versions[2].comment, "from lab1.csv");
  EXPECT_EQ(d->activations.back().activatedBy, "configuration");
  EXPECT_EQ(d->activations.back().previousVersion, 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'mapping_set.activated' AND actor = "
                  "'configuration'"),
            2);
}

TEST(MappingSetNames, TheAlphabetAndFileNames) {
  EXPECT_TRUE(isMappingSetName("lcms-panel_2.v1"));
  EXPECT_FALSE(isMappingSetName(""));
  EXPECT_FALSE(isMappingSetName(".hidden"));
  EXPECT_FALSE(isMappingSetName("a b"));
  EXPECT_FALSE(isMappingSetName("a/b"));
  EXPECT_FALSE(isMappingSetName(std::string(65, 'a')));
  EXPECT_EQ(mappingSetNameOfFile("/etc/labgate/mappings/lcms panel.csv"), "lcms_panel");
  EXPECT_EQ(mappingSetNameOfFile("config/mappings/example-lcmsms.CSV"), "example-lcmsms");
  EXPECT_EQ(mappingSetNameOfFile("C:\\maps\\Säule.csv"), "S__ule");
  EXPECT_EQ(mappingSetNameOfFile(".csv.csv"), "_.csv");
  EXPECT_TRUE(isMappingSetName(mappingSetNameOfFile("x/" + std::string(100, 'b') + ".csv")));
}

}  // namespace
}  // namespace labgate
