// Backups: take one now and list them (engine/service/backup_service.h does the work). A backup
// holds every organisation's data, so only the operator organisation "default" may ask.
#include "engine/api/api_impl.h"

namespace labgate::api {
namespace {

Object::Ptr manifestJson(const backup::Manifest& m) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("created_at", m.createdAt);
  o->set("labgated_version", m.version);
  o->set("schema_version", m.schemaVersion);
  o->set("messages", m.messages);
  o->set("results", m.results);
  o->set("audit_events", m.audit);
  o->set("audit_head", m.auditHead);
  o->set("database_sha256", m.databaseSha256);
  o->set("database_bytes", m.databaseBytes);
  o->set("body_files", m.bodyFiles);
  // The signing key the backup carries (format 2); null for one that carries none.
  o->set("signing_key",
         m.signingKey.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(m.signingKey));
  o->set("manifest_sha256", m.digest());
  return o;
}

Object::Ptr backupJson(const std::string& name, int64_t bytes, const std::string& createdAt,
                       bool verified, const std::optional<backup::Manifest>& manifest) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("name", name);
  o->set("size", bytes);
  o->set("created_at", createdAt);
  o->set("verified", verified);
  o->set("manifest", manifest ? Poco::Dynamic::Var(manifestJson(*manifest)) : Poco::Dynamic::Var());
  return o;
}

/// The backup service, after the operator check; 503 when backups are not configured.
BackupControl& backupsFor(const Call& call, const EngineView& engine) {
  if (call.principal.orgId != "default") {
    fail(HttpStatus::HTTP_FORBIDDEN,
         "a backup holds every organisation: only the operator organisation \"default\" takes "
         "and lists backups");
  }
  BackupControl* backups = engine.backups();
  if (!backups) {
    Object::Ptr extra = new Object;
    extra->set("reason", "no_key_file");
    fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE,
         "backups are not configured: they are always encrypted and need security.key_file", extra);
  }
  return *backups;
}

}  // namespace

void Api::Impl::registerBackupRoutes() {
  on("POST", "/api/v1/backups", [this](Call& call) {
    BackupControl& backups = backupsFor(call, engine);
    StatusOr<backup::Created> made = backups.backupNow(call.principal.actor());
    if (!made.isOk()) {
      if (made.status().code() == Status::Code::kUnavailable) {
        fail(HttpStatus::HTTP_CONFLICT, "a backup is running already: try again when it is done");
      }
      fail(HttpStatus::HTTP_INTERNAL_SERVER_ERROR,
           "the backup failed and was deleted: " + made.status().toString());
    }
    const backup::Created& c = made.value();
    sendJson(call.response, HttpStatus::HTTP_CREATED,
             backupJson(c.name, c.bytes, c.manifest.createdAt, true, c.manifest));
  });
  on("GET", "/api/v1/backups", [this](Call& call) {
    BackupControl& backups = backupsFor(call, engine);
    Array::Ptr items = new Array;
    for (const auto& e : backups.list()) {
      const backup::Listing& l = e.listing;
      std::string createdAt = l.manifest ? l.manifest->createdAt : isoAt(l.time * 1000);
      items->add(backupJson(l.name, l.bytes, createdAt, e.verified, l.manifest));
    }
    sendItems(call, items);
  });
}

}  // namespace labgate::api
