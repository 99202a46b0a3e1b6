// Mapping sets in the store (see mapping_sets.h).
#include "engine/store/mapping_sets.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "engine/store/store_impl.h"
#include "util/json_quote.h"

using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace): SQL binding keywords
using Poco::Data::Session;
using Poco::Data::Statement;

namespace labgate {
namespace {

std::optional<int64_t> setIdOf(Session& s, const std::string& orgId, const std::string& name) {
  int64_t id = 0;
  Statement select(s);
  select << "SELECT id FROM mapping_sets WHERE org_id = ? AND name = ?"_sql, bind(orgId),
      bind(name), into(id);
  if (select.execute() == 0) {
    return std::nullopt;
  }
  return id;
}

constexpr const char* kActivationColumns =
    "id, version, previous_version, activated_by, activated_at, reason, session_id, printed_name, "
    "meaning, signed_bytes, signature, key_id";

std::vector<MappingSetActivation> selectActivations(Session& s, int64_t setId, bool latestOnly) {
  std::vector<MappingSetActivation> out;
  MappingSetActivation row;
  Statement select(s);
  select << sql::Text{std::string("SELECT ") + kActivationColumns +
                      " FROM mapping_set_activations WHERE set_id = ? ORDER BY id " +
                      (latestOnly ? "DESC LIMIT 1" : "ASC")},
      bind(setId), into(row.id), into(row.version), into(row.previousVersion),
      into(row.activatedBy), into(row.activatedAt), into(row.reason), into(row.sessionId),
      into(row.printedName), into(row.meaning), into(row.signedBytes), into(row.signature),
      into(row.keyId), range(0, 1);
  eachRow(select, [&] { out.push_back(row); });
  return out;
}

std::optional<MappingSetActivation> latestActivation(Session& s, int64_t setId) {
  std::vector<MappingSetActivation> rows = selectActivations(s, setId, true);
  if (rows.empty()) {
    return std::nullopt;
  }
  return rows.front();
}

std::optional<MappingSetVersion> selectVersion(Session& s, int64_t setId, int64_t version) {
  MappingSetVersion row;
  Statement select(s);
  select << "SELECT version, csv_text, row_count, sha256, created_by, created_at, comment FROM "
            "mapping_set_versions WHERE set_id = ? AND version = ?"_sql,
      bind(setId), bind(version), into(row.version), into(row.csv), into(row.rowCount),
      into(row.sha256), into(row.createdBy), into(row.createdAt), into(row.comment);
  if (select.execute() == 0) {
    return std::nullopt;
  }
  return row;
}

int64_t latestVersionOf(Session& s, int64_t setId) {
  int64_t latest = 0;
  s << "SELECT COALESCE(MAX(version), 0) FROM mapping_set_versions WHERE set_id = ?"_sql,
      bind(setId), into(latest), now;
  return latest;
}

/// Creates the set when absent; returns its id. Inside a write job.
int64_t ensureSet(Session& s, const std::string& orgId, const std::string& name) {
  if (std::optional<int64_t> id = setIdOf(s, orgId, name)) {
    return *id;
  }
  const std::string at = isoNow();
  s << "INSERT INTO mapping_sets (org_id, name, created_at) VALUES (?, ?, ?)"_sql, bind(orgId),
      bind(name), bind(at), now;
  int64_t id = 0;
  s << "SELECT last_insert_rowid()"_sql, into(id), now;
  return id;
}

/// Inserts the next version and sets `event` to its audit event (for the caller to append);
/// returns its number. Inside a write job.
int64_t insertVersion(AuditEvent& event, Session& s, const std::string& orgId, int64_t setId,
                      const std::string& name, const std::string& csv, int64_t rowCount,
                      const std::string& comment, const AuditEvent& audit) {
  const int64_t version = latestVersionOf(s, setId) + 1;
  const std::string sha = sha256Hex(csv);
  const std::string at = isoNow();
  s << "INSERT INTO mapping_set_versions (org_id, set_id, version, csv_text, row_count, sha256, "
       "created_by, created_at, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
      bind(orgId), bind(setId), bind(version), bind(csv), bind(rowCount), bind(sha),
      bind(audit.actor), bind(at), bind(comment), now;
  event = audit;
  event.action = "mapping_set.version_created";
  event.subject = "mapping-set:" + name;
  event.detail = "{\"set\":" + util::jsonQuote(name) + ",\"version\":" + std::to_string(version) +
                 ",\"rows\":" + std::to_string(rowCount) + ",\"sha256\":" + util::jsonQuote(sha) +
                 ",\"comment\":" + util::jsonQuote(comment) + "}";
  return version;
}

/// Inserts an activation and sets `event` to its audit event (for the caller to append). Inside a
/// write job.
MappingSetActivation insertActivation(AuditEvent& event, Session& s, const std::string& orgId,
                                      int64_t setId, const std::string& name,
                                      MappingSetActivation a, int64_t previous,
                                      const AuditEvent& audit) {
  a.previousVersion = previous;
  if (a.activatedAt.empty()) {
    a.activatedAt = isoNow();
  }
  s << "INSERT INTO mapping_set_activations (org_id, set_id, version, previous_version, "
       "activated_by, activated_at, reason, session_id, printed_name, meaning, signed_bytes, "
       "signature, key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
      bind(orgId), bind(setId), bind(a.version), bind(a.previousVersion), bind(a.activatedBy),
      bind(a.activatedAt), bind(a.reason), bind(a.sessionId), bind(a.printedName), bind(a.meaning),
      bind(a.signedBytes), bind(a.signature), bind(a.keyId), now;
  s << "SELECT last_insert_rowid()"_sql, into(a.id), now;
  event = audit;
  event.action = "mapping_set.activated";
  event.subject = "mapping-set:" + name;
  event.detail = "{\"set\":" + util::jsonQuote(name) + ",\"activation\":" + std::to_string(a.id) +
                 ",\"old\":" + std::to_string(previous) + ",\"new\":" + std::to_string(a.version) +
                 ",\"reason\":" + util::jsonQuote(a.reason) +
                 ",\"signed\":" + (a.isSigned() ? "true" : "false") +
                 (a.isSigned() ? ",\"key_id\":" + util::jsonQuote(a.keyId) : std::string()) + "}";
  return a;
}

}  // namespace

MappingSetStore::MappingSetStore(std::shared_ptr<Store> store) : store_(std::move(store)) {}

std::vector<MappingSetSummary> MappingSetStore::list(const std::string& orgId) {
  return store_->impl_->read([&](Session& s) {
    std::vector<std::pair<int64_t, MappingSetSummary>> sets;
    int64_t id = 0;
    MappingSetSummary row;
    Statement select(s);
    select << "SELECT id, name, created_at FROM mapping_sets WHERE org_id = ? ORDER BY name"_sql,
        bind(orgId), into(id), into(row.name), into(row.createdAt), range(0, 1);
    eachRow(select, [&] { sets.emplace_back(id, row); });
    std::vector<MappingSetSummary> out;
    for (auto& [setId, summary] : sets) {
      summary.latestVersion = latestVersionOf(s, setId);
      summary.active = latestActivation(s, setId);
      out.push_back(std::move(summary));
    }
    return out;
  });
}

std::optional<MappingSetDetail> MappingSetStore::get(const std::string& orgId,
                                                     const std::string& name) {
  return store_->impl_->read([&](Session& s) -> std::optional<MappingSetDetail> {
    std::optional<int64_t> setId = setIdOf(s, orgId, name);
    if (!setId) {
      return std::nullopt;
    }
    MappingSetDetail detail;
    detail.summary.name = name;
    s << "SELECT created_at FROM mapping_sets WHERE id = ?"_sql, bind(*setId),
        into(detail.summary.createdAt), now;
    MappingSetVersion row;
    Statement select(s);
    select << "SELECT version, row_count, sha256, created_by, created_at, comment FROM "
              "mapping_set_versions WHERE set_id = ? ORDER BY version"_sql,
        bind(*setId), into(row.version), into(row.rowCount), into(row.sha256), into(row.createdBy),
        into(row.createdAt), into(row.comment), range(0, 1);
    eachRow(select, [&] { detail.versions.push_back(row); });
    detail.summary.latestVersion = detail.versions.empty() ? 0 : detail.versions.back().version;
    detail.activations = selectActivations(s, *setId, false);
    if (!detail.activations.empty()) {
      detail.summary.active = detail.activations.back();
    }
    return detail;
  });
}

std::optional<MappingSetVersion> MappingSetStore::version(const std::string& orgId,
                                                          const std::string& name,
                                                          int64_t version) {
  return store_->impl_->read([&](Session& s) -> std::optional<MappingSetVersion> {
    std::optional<int64_t> setId = setIdOf(s, orgId, name);
    if (!setId) {
      return std::nullopt;
    }
    return selectVersion(s, *setId, version);
  });
}

std::optional<MappingSetVersion> MappingSetStore::activeVersion(const std::string& orgId,
                                                                const std::string& name) {
  return store_->impl_->read([&](Session& s) -> std::optional<MappingSetVersion> {
    std::optional<int64_t> setId = setIdOf(s, orgId, name);
    if (!setId) {
      return std::nullopt;
    }
    std::optional<MappingSetActivation> active = latestActivation(s, *setId);
    if (!active) {
      return std::nullopt;
    }
    return selectVersion(s, *setId, active->version);
  });
}

StatusOr<int64_t> MappingSetStore::addVersion(const std::string& orgId, const std::string& name,
                                              const std::string& csv, int64_t rowCount,
                                              const std::string& comment, const AuditEvent& audit) {
  auto& impl = *store_->impl_;
  int64_t version = 0;
  Status written = impl.write([&](Session& s) {
    const int64_t setId = ensureSet(s, orgId, name);
    AuditEvent event;
    version = insertVersion(event, s, orgId, setId, name, csv, rowCount, comment, audit);
    impl.appendAudit(s, event);
  });
  if (!written.isOk()) {
    return written;
  }
  return version;
}

StatusOr<MappingSetActivation> MappingSetStore::activate(const MappingActivationDraft& draft) {
  auto& impl = *store_->impl_;
  MappingSetActivation made;
  Status refusal;
  Status written = impl.write([&](Session& s) {
    try {
      std::optional<int64_t> setId = setIdOf(s, draft.orgId, draft.setName);
      if (!setId) {
        throw Refused(Status::notFound("mapping set", "no such mapping set"));
      }
      if (!selectVersion(s, *setId, draft.version)) {
        throw Refused(Status::notFound("version", "no such version"));
      }
      std::optional<MappingSetActivation> current = latestActivation(s, *setId);
      const int64_t previous = current ? current->version : 0;
      if (draft.expectedPrevious && *draft.expectedPrevious != previous) {
        throw Refused(Status::rejected("version", "version " + std::to_string(previous) +
                                                      " was activated since you read " +
                                                      "the set: read it again"));
      }
      if (previous == draft.version) {
        throw Refused(Status::rejected(
            "version", "version " + std::to_string(draft.version) + " is already active"));
      }
      MappingSetActivation a = draft.activation;
      a.version = draft.version;
      AuditEvent event;
      made =
          insertActivation(event, s, draft.orgId, *setId, draft.setName, a, previous, draft.audit);
      impl.appendAudit(s, event);
    } catch (const Refused& r) {
      refusal = r.status();
      throw;
    }
  });
  if (!refusal.isOk()) {
    return refusal;
  }
  if (!written.isOk()) {
    return written;
  }
  return made;
}

StatusOr<std::optional<int64_t>> MappingSetStore::importFile(const std::string& orgId,
                                                             const std::string& name,
                                                             const std::string& csv,
                                                             int64_t rowCount,
                                                             const std::string& path) {
  auto& impl = *store_->impl_;
  std::optional<int64_t> activated;
  const std::string sha = sha256Hex(csv);
  Status written = impl.write([&](Session& s) {
    const int64_t setId = ensureSet(s, orgId, name);
    // Changed: other than the version the configuration stored last (a version activated through
    // the API since stays active while the file is unchanged).
    std::string lastSha;
    Statement select(s);
    select << "SELECT sha256 FROM mapping_set_versions WHERE set_id = ? AND created_by = "
              "'configuration' ORDER BY version DESC LIMIT 1"_sql,
        bind(setId), into(lastSha);
    const bool imported = select.execute() > 0;
    std::optional<MappingSetActivation> current = latestActivation(s, setId);
    if (imported && lastSha == sha && current) {
      return;
    }
    AuditEvent audit{orgId, "configuration", "", "", ""};
    AuditEvent event;
    int64_t version = 0;
    if (imported && lastSha == sha) {
      version = latestVersionOf(s, setId);  // nothing active yet: not reached in practice
    } else {
      version = insertVersion(event, s, orgId, setId, name, csv, rowCount, "from " + path, audit);
      impl.appendAudit(s, event);
    }
    if (current && current->version == version) {
      return;
    }
    MappingSetActivation a;
    a.version = version;
    a.activatedBy = "configuration";
    a.reason = "the file " + path + " changed";
    insertActivation(event, s, orgId, setId, name, a, current ? current->version : 0, audit);
    impl.appendAudit(s, event);
    activated = version;
  });
  if (!written.isOk()) {
    return written;
  }
  return activated;
}

bool MappingSetStore::sessionHasSigned(int64_t sessionId) {
  return store_->impl_->read([&](Session& s) {
    int64_t any = 0;
    s << "SELECT COUNT(*) FROM (SELECT 1 FROM mapping_set_activations WHERE session_id = ? "
         "AND signature <> '' LIMIT 1) AS signed_activation"_sql,
        bind(sessionId), into(any), now;
    return any != 0;
  });
}

}  // namespace labgate
