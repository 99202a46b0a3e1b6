// Messages as received, and the maintenance of encryption at rest (docs/encryption.md):
// - GET /api/v1/messages/{id}/raw answers the received bytes of a stored message, decrypted, when
//   the store kept them (security.key_file set and the PHI gate passed them unchanged; ADR 0008).
//   Another organisation's message answers 404 like one without a stored body. Each read is
//   audited ("message.raw_read").
// - POST/GET /api/v1/maintenance/reencrypt start and show the background re-encryption under a
//   new data key. It covers every organisation's content, so only the operator organisation
//   "default" may ask.
// - GET /api/v1/messages lists received messages (accepted, refused, invalid, duplicate) with the
//   reason and field locations, never a value, read from their audit events (engine/store/
//   traffic.h). Unknown query parameters answer 400.
// - GET /api/v1/destinations/{name}/dead-letter lists what the LIS refused (AE/AR) with its
//   reason; POST .../dead-letter/{id}/resend puts one back into the queue in its original place
//   (ordered by id: before every item created after it that still waits), audited
//   "outbound.resent" with the caller and the reason given.
#include <Poco/Logger.h>
#include <Poco/String.h>

#include <set>

#include "engine/api/api_impl.h"
#include "engine/log/log.h"
#include "engine/net/http_util.h"
#include "engine/store/traffic.h"

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

Object::Ptr receivedJson(const ReceivedMessage& m) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", m.id);
  o->set("received_at", m.at);
  o->set("connector", m.connector);
  o->set("instrument", m.instrument);
  o->set("outcome", m.outcome);
  if (m.batchId) {
    o->set("batch_id", *m.batchId);
    o->set("batch", "/api/v1/batches/" + std::to_string(*m.batchId));
  } else {
    o->set("batch_id", Poco::Dynamic::Var());
    o->set("batch", Poco::Dynamic::Var());
  }
  if (!m.file.empty()) o->set("file", m.file);
  o->set("peer", m.peer);
  o->set("reason", m.reason);
  Array::Ptr locations = new Array;
  for (const auto& l : m.locations) {
    Object::Ptr at = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    at->set("location", l.location);
    at->set("reason", l.reason);
    locations->add(at);
  }
  o->set("locations", locations);
  return o;
}

Object::Ptr deadLetterJson(const DeadLetter& d) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", d.id);
  o->set("destination", d.destination);
  o->set("control_id", d.controlId);
  o->set("batch_id", d.batchId);
  o->set("batch", "/api/v1/batches/" + std::to_string(d.batchId));
  Array::Ptr samples = new Array;
  for (const auto& s : d.sampleIds) samples->add(s);
  o->set("sample_ids", samples);
  o->set("ack_code", d.ackCode);
  o->set("reason", d.reason);
  o->set("queued_at", d.queuedAt);
  o->set("dead_at", d.deadAt);
  o->set("attempts", d.attempts);
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

  on("GET", "/api/v1/messages", [this](Call& call) {
    refuseUnknownQuery(call, {"connector", "outcome", "from", "to", "limit", "before"},
                       "connector, outcome, from, to, limit, before");
    ReceivedFilter filter;
    auto connector = call.query.find("connector");
    if (connector != call.query.end()) {
      if (connector->second.empty()) {
        fail(HttpStatus::HTTP_BAD_REQUEST, "\"connector\" must not be empty");
      }
      filter.connector = connector->second;
    }
    auto outcome = call.query.find("outcome");
    if (outcome != call.query.end()) {
      filter.outcome = Poco::toLower(outcome->second);
      bool known = false;
      for (const char* o : kReceivedOutcomes) known = known || filter.outcome == o;
      if (!known) {
        fail(HttpStatus::HTTP_BAD_REQUEST,
             "\"outcome\" must be accepted, refused, invalid or duplicate (any case)");
      }
    }
    filter.from = isoQuery(call, "from");
    filter.to = isoQuery(call, "to");
    Page<ReceivedMessage> page =
        TrafficStore(store).received(call.principal.orgId, filter, pageOf(call));
    Array::Ptr items = new Array;
    for (const auto& m : page.items) items->add(receivedJson(m));
    sendPage(call, items, page.next);
  });

  // A destination of the caller's organisation (404 otherwise, like one that does not exist).
  auto destinationOf = [this](Call& call) {
    auto orgs = engine.destinationOrgs();
    auto it = orgs.find(call.params["name"]);
    if (it == orgs.end() || it->second != call.principal.orgId) {
      fail(HttpStatus::HTTP_NOT_FOUND, "no such destination");
    }
    return it->first;
  };

  on("GET", "/api/v1/destinations/{name}/dead-letter", [this, destinationOf](Call& call) {
    refuseUnknownQuery(call, {"limit", "before"}, "limit, before");
    const std::string destination = destinationOf(call);
    Page<DeadLetter> page =
        TrafficStore(store).deadLetters(call.principal.orgId, destination, pageOf(call));
    Array::Ptr items = new Array;
    for (const auto& d : page.items) items->add(deadLetterJson(d));
    sendPage(call, items, page.next);
  });

  on("POST", "/api/v1/destinations/{name}/dead-letter/{id}/resend",
     [this, destinationOf](Call& call) {
       const std::string destination = destinationOf(call);
       const int64_t id = call.idParam("id");
       Object::Ptr body = call.body();
       std::string reason = needString(body, "reason");
       if (Poco::trim(reason).empty()) {
         fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
              "\"reason\" must say why the message is sent again");
       }
       if (reason.size() > 1000) {
         fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "\"reason\" is longer than 1000 bytes");
       }
       refuseControlCharacters("reason", reason);
       StatusOr<Resent> resent = TrafficStore(store).resend(call.principal.orgId, destination, id,
                                                            call.principal.actor(), reason);
       if (!resent.isOk()) {
         const Status& why = resent.status();
         if (why.code() == Status::Code::kNotFound) {
           fail(HttpStatus::HTTP_NOT_FOUND, "no such dead letter of this destination");
         }
         if (why.code() == Status::Code::kRejected) {
           fail(HttpStatus::HTTP_CONFLICT, why.reason());
         }
         logError(logger(), "resend of outbound {} to {}: {}", static_cast<Poco::Int64>(id),
                  destination, why.toString());
         fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the resend could not be recorded; try again");
       }
       engine.wakeDelivery();
       Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
       out->set("id", resent->id);
       out->set("destination", destination);
       out->set("control_id", resent->controlId);
       out->set("state", "queued");
       out->set("ahead_of", resent->aheadOf);
       sendJson(call.response, HttpStatus::HTTP_OK, out);
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
