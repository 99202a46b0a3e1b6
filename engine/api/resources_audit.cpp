// GET /api/v1/audit/verification: walks the audit trail's hash chain in the store and names the
// first broken event (docs/audit.md). The chain is one for every organisation (each event links to
// the one before it, whoever's it is), so every organisation's auditor checks the whole chain; a
// broken event of another organisation is named by its sequence number only.
#include "engine/api/api_impl.h"
#include "engine/store/audit_log.h"

namespace labgate::api {

void Api::Impl::registerAuditVerificationRoutes() {
  on("GET", "/api/v1/audit/verification", [this](Call& call) {
    AuditChainReport r = AuditLog(store).verify();
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("valid", r.valid);
    out->set("events", r.events);
    out->set("last_id", r.lastId);
    out->set("head", r.valid ? Poco::Dynamic::Var(r.head) : Poco::Dynamic::Var());
    if (r.valid) {
      out->set("reason", "every event's hash matches its content and links to the one before it");
      out->set("broken", Poco::Dynamic::Var());
    } else {
      const bool own = call.principal.orgId == "default" || call.principal.orgId == r.brokenOrg;
      Object::Ptr broken = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      broken->set("id", r.brokenId);
      broken->set("problem", r.problem);
      if (own) {
        broken->set("at", r.brokenAt);
        broken->set("action", r.brokenAction);
        broken->set("expected", r.expected);
        broken->set("stored", r.stored);
        out->set("reason", r.reason);
      } else {
        out->set("reason", "audit event " + std::to_string(r.brokenId) +
                               " (of another organisation) breaks the chain: " +
                               (r.problem == "content"
                                    ? "it was changed after it was written"
                                    : "an event before it was removed, inserted or rewritten"));
      }
      out->set("broken", broken);
    }
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });
}

}  // namespace labgate::api
