// Messages as received, and the maintenance of encryption at rest (docs/encryption.md):
// - GET /api/v1/messages/{id}/raw answers the received bytes of a stored message, decrypted, when
//   the store kept them (security.key_file set and the PHI gate passed them unchanged; ADR 0008).
//   Another organisation's message answers 404 like one without a stored body. Each read is
//   audited ("message.raw_read").
// - POST/GET /api/v1/maintenance/reencrypt start and show the background re-encryption under a
//   new data key. It covers every organisation's content, so only the operator organisation
//   "default" may ask.
#include <Poco/Logger.h>

#include "engine/api/api_impl.h"
#include "engine/log/log.h"
#include "engine/net/http_util.h"

namespace labgate::api {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("api"); }

Object::Ptr progressJson(const ReencryptProgress& p) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("state", p.state);
  o->set("total", p.total);
  o->set("done", p.done);
  o->set("key_id", static_cast<int64_t>(p.keyId));
  Array::Ptr retired = new Array;
  for (uint32_t id : p.retired) retired->add(static_cast<int64_t>(id));
  o->set("retired", retired);
  if (!p.error.empty()) o->set("error", p.error);
  return o;
}

void operatorOnly(const Call& call) {
  if (call.principal.orgId != "default") {
    fail(HttpStatus::HTTP_FORBIDDEN,
         "re-encryption covers every organisation's content: only the operator organisation "
         "\"default\" may run it");
  }
}

}  // namespace

void Api::Impl::registerMessageRoutes() {
  on("GET", "/api/v1/messages/{id}/raw", [this](Call& call) {
    const int64_t id = call.idParam("id");
    std::ostream* out = nullptr;
    Status read = store->readRawBody(
        call.principal.orgId, id,
        [&](int64_t size) {
          Status audited = store->appendAudit(
              event(call, "message.raw_read", "message:" + std::to_string(id), nullptr));
          if (!audited.isOk()) {
            fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the read could not be audited; try again");
          }
          call.response.setStatus(HttpStatus::HTTP_OK);
          call.response.setContentType("application/octet-stream");
          call.response.setContentLength64(size);
          call.response.set("X-Content-Type-Options", "nosniff");
          call.response.set("Content-Disposition",
                            "attachment; filename=\"message-" + std::to_string(id) + ".bin\"");
          // A stored export is verified chunk by chunk while it is sent: should a later chunk
          // fail, the connection closes short of Content-Length, which no client takes for the
          // whole body.
          call.response.setKeepAlive(false);
          out = &call.response.send();
        },
        [&](std::string_view piece) {
          out->write(piece.data(), static_cast<std::streamsize>(piece.size()));
          return out->good();
        });
    if (out == nullptr) {
      if (read.code() == Status::Code::kNotFound) {
        fail(HttpStatus::HTTP_NOT_FOUND, "no received bytes are stored for this message");
      }
      logError(logger(), "GET raw body of message {}: {}", static_cast<Poco::Int64>(id),
               read.toString());
      fail(HttpStatus::HTTP_INTERNAL_SERVER_ERROR, "the stored body cannot be read");
    }
    if (!read.isOk()) {
      logError(logger(), "GET raw body of message {} stopped: {}", static_cast<Poco::Int64>(id),
               read.toString());
    }
  });

  on("POST", "/api/v1/maintenance/reencrypt", [this](Call& call) {
    operatorOnly(call);
    AuditEvent by;
    by.orgId = call.principal.orgId;
    by.actor = call.principal.actor();
    StatusOr<ReencryptProgress> started = store->startReencrypt(by);
    if (!started.isOk()) {
      const Status& why = started.status();
      if (why.code() == Status::Code::kRejected) {
        fail(HttpStatus::HTTP_CONFLICT, "a re-encryption is running: wait until it is done");
      }
      if (why.code() == Status::Code::kUnavailable) {
        Object::Ptr extra = new Object;
        extra->set("reason", "no_key_file");
        fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE,
             "content is not encrypted at rest: set security.key_file", extra);
      }
      fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE,
           "the re-encryption could not start: " + why.toString());
    }
    sendJson(call.response, HttpStatus::HTTP_ACCEPTED, progressJson(started.value()));
  });

  on("GET", "/api/v1/maintenance/reencrypt", [this](Call& call) {
    operatorOnly(call);
    sendJson(call.response, HttpStatus::HTTP_OK, progressJson(store->reencryptProgress()));
  });
}

}  // namespace labgate::api
