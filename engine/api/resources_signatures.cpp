// Electronic signatures, 21 CFR Part 11 (docs/signatures.md, docs/adr/0013):
//   POST /api/v1/signatures                     sign a batch (or some of its held results)
//   GET  /api/v1/signatures/{id}                the signature, signed_bytes and signature (base64)
//   GET  /api/v1/signatures/{id}/verification   recompute the record from the store and verify
//   GET  /api/v1/signing-key                    the server's Ed25519 public key (PEM)
//
// Order of checks of a signing: the body's shape (400) → the meaning exists (422) and the signer
// holds its permission (403) → the password, and on the first signing of a session the TOTP code
// (§11.200; a failure counts towards the lockout and is audited "signature.refused", 403) → the
// batch is the organisation's (404) → it is the version the signer saw (409) → the policy: the
// results wait for a decision, review before approval, distinct signers (409), a reason where one
// is required (422). Then ONE store transaction writes the signature, the results' QA state, the
// approved results' outbound items and the audit event.
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <map>
#include <set>

#include "engine/api/api_impl.h"
#include "engine/log/log.h"
#include "engine/net/interfaces.h"
#include "engine/store/audit.h"
#include "util/json_quote.h"

namespace labgate::api {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("api"); }

const std::set<std::string>& qaMeanings() {
  static const std::set<std::string> kBuiltIn = {"reviewed", "approved", "rejected",
                                                 "rerun-requested"};
  return kBuiltIn;
}

/// The subject "batch:ID" (400 otherwise).
int64_t batchOfSubject(const std::string& subject) {
  const std::string prefix = "batch:";
  int64_t id = 0;
  if (subject.rfind(prefix, 0) != 0 || subject.size() == prefix.size() || subject.size() > 25 ||
      !parseInteger("subject", subject.substr(prefix.size()), 1, INT64_MAX, id).isOk()) {
    fail(HttpStatus::HTTP_BAD_REQUEST, "\"subject\" must be \"batch:ID\" (a batch id)");
  }
  return id;
}

/// "results": an array of positive integer result ids, without repeats (400 otherwise).
std::optional<std::vector<int64_t>> resultIdsOf(const Object::Ptr& body) {
  if (!body->has("results") || body->isNull("results")) return std::nullopt;
  Array::Ptr array = body->getArray("results");
  if (!array || array->size() == 0) {
    fail(HttpStatus::HTTP_BAD_REQUEST,
         "\"results\" must be a non-empty array of result ids (leave it out for every held "
         "result)");
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < array->size(); ++i) {
    Poco::Dynamic::Var v = array->get(static_cast<unsigned>(i));
    if (!v.isInteger() || v.convert<int64_t>() <= 0) {
      fail(HttpStatus::HTTP_BAD_REQUEST, "\"results\" must be an array of result ids (integers)");
    }
    const int64_t id = v.convert<int64_t>();
    if (std::find(out.begin(), out.end(), id) != out.end()) {
      fail(HttpStatus::HTTP_BAD_REQUEST,
           "\"results\" names result " + std::to_string(id) + " twice");
    }
    out.push_back(id);
  }
  return out;
}

/// The bytes the server key signs: what the signature means, who, when, which record version
/// and each result's digest in that version (so that verification can say which one changed).
/// Keys sorted, no white space.
std::string signedBytesOf(const SignatureRecord& sig, const std::vector<BatchResult>& results) {
  using util::jsonQuote;
  std::string out = "{\"batch\":" + std::to_string(sig.batchId);
  out += ",\"key_id\":" + jsonQuote(sig.keyId);
  out += ",\"meaning\":" + jsonQuote(sig.meaning);
  out += ",\"org\":" + jsonQuote(sig.orgId);
  out += ",\"reason\":" + jsonQuote(sig.reason);
  out += ",\"record_sha256\":" + jsonQuote(sig.recordSha256);
  out += ",\"result_digests\":[";
  for (size_t i = 0; i < results.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"id\":" + std::to_string(results[i].id) +
           ",\"sha256\":" + jsonQuote(sha256Hex(canonicalResult(results[i]))) + "}";
  }
  out += "],\"results\":[";
  for (size_t i = 0; i < sig.resultIds.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(sig.resultIds[i]);
  }
  out += "],\"signed_at\":" + jsonQuote(sig.signedAt);
  out += ",\"signer\":{\"printed_name\":" + jsonQuote(sig.printedName) +
         ",\"user_id\":" + std::to_string(sig.userId) + ",\"username\":" + jsonQuote(sig.username) +
         "}";
  out += ",\"subject\":" + jsonQuote("batch:" + std::to_string(sig.batchId)) + "}";
  return out;
}

/// The approved (or, sent as cancelled, rejected) results as a message for the destinations:
/// patient samples only, each result carrying the signature that released it.
Message releaseMessage(const std::vector<const BatchResult*>& results, const ResultSignature& by,
                       bool cancelled) {
  Message message;
  int64_t sampleRow = 0;
  for (const BatchResult* r : results) {
    if (r->sampleKind != toString(SampleKind::kUnknown)) continue;
    if (message.samples.empty() || r->sampleRow != sampleRow) {
      sampleRow = r->sampleRow;
      Sample sample;
      sample.sampleId = r->sampleId;
      sample.acquiredAt = r->sampleAcquiredAt;
      message.samples.push_back(std::move(sample));
    }
    Result out;
    out.instrumentCode = r->instrumentCode;
    out.lisCode = r->lisCode;
    out.lisName = r->lisName;
    out.value = r->value;
    out.decimals = r->decimals;  // rounded for the LIS as an auto-released result is
    out.units = r->units;
    out.referenceRange = r->referenceRange;
    out.flags = r->flags;
    out.status = cancelled ? "X" : r->status;
    out.measuredAt = r->measuredAt;
    out.comment = r->comment;
    out.signature = by;
    message.samples.back().results.push_back(std::move(out));
  }
  return message;
}

}  // namespace

Object::Ptr signatureJson(const SignatureRecord& sig, bool full) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", sig.id);
  o->set("subject", "batch:" + std::to_string(sig.batchId));
  o->set("meaning", sig.meaning);
  o->set("signer", sig.username);
  o->set("printed_name", sig.printedName);
  o->set("signed_at", sig.signedAt);
  o->set("reason", sig.reason);
  Array::Ptr results = new Array;
  for (int64_t id : sig.resultIds) results->add(id);
  o->set("results", results);
  o->set("record_sha256", sig.recordSha256);
  o->set("key_id", sig.keyId);
  o->set("manifestation",
         "Electronically signed (" + sig.meaning + ") by " + sig.printedName + " " + sig.signedAt);
  if (full) {
    o->set("signed_bytes", security::base64Encode(sig.signedBytes));
    o->set("signature", sig.signature);
  }
  return o;
}

void Api::Impl::reauthenticateSigner(Call& call, const std::string& password,
                                     const std::optional<std::string>& totp,
                                     const std::string& endpoint) {
  if (!call.principal.user || !call.principal.session) {
    fail(HttpStatus::HTTP_FORBIDDEN,
         "an electronic signature is made by a person signed in (a session), not an API key");
  }
  // §11.200: the first signing of a session needs every factor, later ones the password.
  const User& user = *call.principal.user;
  const SessionRecord& session = *call.principal.session;
  const bool first =
      !signatures.sessionHasSigned(session.id) && !mappingSets.sessionHasSigned(session.id);
  if (first && user.totpEnabled && (!totp || totp->empty())) {
    Object::Ptr detail = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    detail->set("endpoint", endpoint);
    detail->set("reason", "totp_required");
    Status audited = store->appendAudit(
        event(call, "signature.refused", "user:" + std::to_string(user.id), detail));
    if (!audited.isOk())
      logError(logger(), "signature refusal not audited: {}", audited.toString());
    call.refusalAudited = true;
    Object::Ptr extra = new Object;
    extra->set("totp_required", true);
    fail(HttpStatus::HTTP_FORBIDDEN,
         "the first signature of a session needs the TOTP code (\"totp\") with the password",
         extra);
  }
  reauthenticate(call, password, "the password", first && user.totpEnabled ? totp : std::nullopt,
                 "signature.refused");
}

void Api::Impl::registerSignatureRoutes() {
  on("GET", "/api/v1/signing-key", [this](Call& call) {
    auto key = engine.signingKey();
    if (!key) fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the signing key is not loaded");
    call.response.setStatus(HttpStatus::HTTP_OK);
    call.response.setContentType("application/x-pem-file");
    call.response.set("X-Content-Type-Options", "nosniff");
    call.response.set("X-Labgate-Key-Id", key->fingerprint());
    call.response.sendBuffer(key->publicPem().data(), key->publicPem().size());
  });

  on("POST", "/api/v1/signatures", [this](Call& call) {
    Object::Ptr body = call.body();
    static const std::set<std::string> kMembers = {"subject",       "results",  "meaning", "reason",
                                                   "record_sha256", "password", "totp"};
    for (const auto& [name, value] : *body) {
      if (kMembers.count(name) == 0) {
        fail(HttpStatus::HTTP_BAD_REQUEST, "unknown member \"" + name + "\"");
      }
    }
    const int64_t batchId = batchOfSubject(needString(body, "subject"));
    const std::string meaning = needString(body, "meaning");
    const std::string expected = needString(body, "record_sha256");
    const std::string password = needString(body, "password");
    const std::optional<std::string> totp = optString(body, "totp");
    std::string reason = optString(body, "reason").value_or("");
    const std::optional<std::vector<int64_t>> wanted = resultIdsOf(body);
    checkFreeText("reason", reason, 2000);

    const SignaturePolicy& policy = settings.signatures;
    auto meaningIt = policy.meanings.find(meaning);
    if (meaningIt == policy.meanings.end()) {
      std::string known;
      for (const auto& [name, permission] : policy.meanings) {
        known += (known.empty() ? "" : ", ") + name;
      }
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
           "unknown meaning \"" + meaning + "\" (known: " + known + ")");
    }
    if (call.principal.permissions.count(meaningIt->second) == 0) {
      fail(HttpStatus::HTTP_FORBIDDEN, "signing \"" + meaning + "\" needs permission " +
                                           meaningIt->second + " (signatures.meaning." + meaning +
                                           ".permission)");
    }

    reauthenticateSigner(call, password, totp, "POST /api/v1/signatures");
    const User& user = *call.principal.user;
    const SessionRecord& session = *call.principal.session;

    std::optional<BatchDetail> batch = signatures.batch(call.principal.orgId, batchId);
    if (!batch) fail(HttpStatus::HTTP_NOT_FOUND, "no such batch");
    const std::string current =
        sha256Hex(canonicalRecord(batchId, batch->results, batch->signatures));
    if (expected != current) {
      Object::Ptr extra = new Object;
      extra->set("record_sha256", current);
      fail(HttpStatus::HTTP_CONFLICT,
           "the batch changed since you read it (record_sha256 is now " + current +
               "): read it again and sign what it shows",
           extra);
    }

    // The covered results: those named, or every one waiting for a decision.
    std::map<int64_t, const BatchResult*> byId;
    for (const BatchResult& r : batch->results) byId[r.id] = &r;
    std::vector<const BatchResult*> covered;
    if (wanted) {
      for (int64_t id : *wanted) {
        auto it = byId.find(id);
        if (it == byId.end()) {
          fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "result " + std::to_string(id) +
                                                          " is not a result of batch " +
                                                          std::to_string(batchId));
        }
        covered.push_back(it->second);
      }
    } else {
      for (const BatchResult& r : batch->results) {
        if (r.waiting()) covered.push_back(&r);
      }
      if (covered.empty()) {
        fail(HttpStatus::HTTP_CONFLICT,
             "no result of batch " + std::to_string(batchId) + " waits for a QA decision");
      }
    }
    const bool decision = qaMeanings().count(meaning) > 0;
    for (const BatchResult* r : covered) {
      if (decision && !r->waiting()) {
        fail(HttpStatus::HTTP_CONFLICT,
             "result " + std::to_string(r->id) + " does not wait for a QA decision (" +
                 (r->qaState.empty() ? "released by the rules" : r->qaState) + ")");
      }
    }
    if (meaning == "approved") {
      for (const BatchResult* r : covered) {
        if (policy.reviewBeforeApproval && r->qaState != "reviewed") {
          fail(HttpStatus::HTTP_CONFLICT,
               "review before approval (signatures.review_before_approval): result " +
                   std::to_string(r->id) + " has not been reviewed");
        }
        if (policy.distinctSigners) {
          for (const SignatureRecord& earlier : batch->signatures) {
            if (earlier.meaning == "reviewed" && earlier.userId == user.id &&
                std::find(earlier.resultIds.begin(), earlier.resultIds.end(), r->id) !=
                    earlier.resultIds.end()) {
              fail(HttpStatus::HTTP_CONFLICT,
                   "distinct reviewer and approver (signatures.distinct_signers): you reviewed "
                   "result " +
                       std::to_string(r->id) + "; another person must approve it");
            }
          }
        }
      }
    }
    if ((meaning == "rejected" || meaning == "rerun-requested") && reason.empty()) {
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
           "a reason is required to sign \"" + meaning + "\" (\"reason\")");
    }
    if (meaning == "approved" && reason.empty()) {
      for (const BatchResult* r : covered) {
        for (const auto& f : r->findings) {
          if (f.severity == "error") {
            fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
                 "a reason is required to approve result " + std::to_string(r->id) +
                     ": it carries an error finding (" + f.ruleId + ")");
          }
        }
      }
    }

    auto key = engine.signingKey();
    if (!key) fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the signing key is not loaded");
    SignatureDraft draft;
    SignatureRecord& sig = draft.signature;
    sig.orgId = call.principal.orgId;
    sig.batchId = batchId;
    sig.userId = user.id;
    sig.username = user.username;
    sig.printedName = user.printedName;
    sig.sessionId = session.id;
    sig.meaning = meaning;
    sig.reason = reason;
    sig.signedAt = isoAt(clock.nowMillis() / 1000 * 1000);
    for (const BatchResult* r : covered) sig.resultIds.push_back(r->id);
    sig.recordSha256 = current;
    sig.keyId = key->fingerprint();
    sig.signedBytes = signedBytesOf(sig, batch->results);
    sig.signature = security::base64Encode(key->sign(sig.signedBytes));
    draft.expectedRecordSha256 = current;
    draft.qaState = decision ? meaning : "";

    const bool release =
        meaning == "approved" || (meaning == "rejected" && policy.sendRejectedCancelled);
    if (release) {
      ResultSignature by{user.username, user.printedName, sig.signedAt, meaning};
      Message message = releaseMessage(covered, by, meaning == "rejected");
      if (!message.samples.empty()) {
        draft.outbound = engine.renderRelease(batch->summary.connector, message);
      }
    }

    Object::Ptr detail = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    detail->set("batch", batchId);
    detail->set("meaning", meaning);
    detail->set("reason", reason);
    detail->set("record_sha256", current);
    Array::Ptr changes = new Array;
    for (const BatchResult* r : covered) {
      Object::Ptr change = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      change->set("result", r->id);
      change->set("element", "qa_state");
      change->set("old", r->qaState);
      change->set("new", decision ? meaning : r->qaState);
      changes->add(change);
    }
    detail->set("changes", changes);
    detail->set("outbound", static_cast<int64_t>(draft.outbound.size()));
    draft.audit = event(call, "signature.created", "", detail);

    StatusOr<int64_t> made = signatures.sign(draft);
    if (!made.isOk()) {
      const Status& why = made.status();
      if (why.code() == Status::Code::kRejected) fail(HttpStatus::HTTP_CONFLICT, why.reason());
      if (why.code() == Status::Code::kNotFound) fail(HttpStatus::HTTP_NOT_FOUND, "no such batch");
      logError(logger(), "signing batch {} failed: {}", static_cast<Poco::Int64>(batchId),
               why.toString());
      fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the signature could not be stored; try again");
    }
    sig.id = made.value();
    if (!draft.outbound.empty()) engine.wakeDelivery();
    logInfo(logger(), "batch {}: signature {} ({}) by {} over {} result(s), {} outbound",
            static_cast<Poco::Int64>(batchId), static_cast<Poco::Int64>(sig.id), meaning,
            user.username, sig.resultIds.size(), draft.outbound.size());
    call.response.set("Location", "/api/v1/signatures/" + std::to_string(sig.id));
    sendJson(call.response, HttpStatus::HTTP_CREATED, signatureJson(sig, true));
  });

  on("GET", "/api/v1/signatures/{id}", [this](Call& call) {
    std::optional<SignatureRecord> sig =
        signatures.signature(call.principal.orgId, call.idParam("id"));
    if (!sig) fail(HttpStatus::HTTP_NOT_FOUND, "no such signature");
    sendJson(call.response, HttpStatus::HTTP_OK, signatureJson(*sig, true));
  });

  on("GET", "/api/v1/signatures/{id}/verification", [this](Call& call) {
    std::optional<SignatureRecord> sig =
        signatures.signature(call.principal.orgId, call.idParam("id"));
    if (!sig) fail(HttpStatus::HTTP_NOT_FOUND, "no such signature");
    auto key = engine.signingKey();
    if (!key) fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the signing key is not loaded");
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("signature", sig->id);
    auto answer = [&](bool valid, const std::string& reason) {
      out->set("valid", valid);
      out->set("reason", reason);
      sendJson(call.response, HttpStatus::HTTP_OK, out);
    };
    // 1. The Ed25519 signature over the stored signed bytes.
    std::optional<std::string> raw = security::base64Decode(sig->signature);
    if (sig->keyId != key->fingerprint()) {
      return answer(false, "signed with key " + sig->keyId + ", not with this server's key " +
                               key->fingerprint());
    }
    Status verified = raw ? security::verifyEd25519(key->publicPem(), sig->signedBytes, *raw)
                          : Status::invalid("signature", "the stored signature is not base64");
    if (!verified.isOk()) return answer(false, verified.reason());
    // 2. The signed bytes name this batch, meaning, signer, results and record.
    Object::Ptr signedJson;
    try {
      signedJson = Poco::JSON::Parser().parse(sig->signedBytes).extract<Object::Ptr>();
    } catch (const Poco::Exception&) {
      return answer(false, "the signed bytes are not a JSON object");
    }
    const std::string subject = signedJson->optValue<std::string>("subject", "");
    if (subject != "batch:" + std::to_string(sig->batchId)) {
      return answer(false, "the signature was made for " + subject + " but is stored on batch:" +
                               std::to_string(sig->batchId) + " (copied to another batch?)");
    }
    if (signedJson->optValue<std::string>("meaning", "") != sig->meaning ||
        signedJson->optValue<std::string>("record_sha256", "") != sig->recordSha256 ||
        signedJson->optValue<std::string>("signed_at", "") != sig->signedAt ||
        signedJson->optValue<std::string>("org", "") != sig->orgId) {
      return answer(false,
                    "the stored signature (meaning, time, record or organisation) differs from "
                    "what was signed");
    }
    // 3. The record recomputed from the store, as it was when the signature was made.
    std::optional<BatchDetail> batch = signatures.batch(call.principal.orgId, sig->batchId);
    if (!batch) return answer(false, "the signed batch is gone");
    std::vector<SignatureRecord> earlier;
    for (const SignatureRecord& s : batch->signatures) {
      if (s.id < sig->id) earlier.push_back(s);
    }
    const std::string now = sha256Hex(canonicalRecord(sig->batchId, batch->results, earlier));
    if (now == sig->recordSha256) {
      return answer(true,
                    "the signature matches the signed bytes, and the record recomputed "
                    "from the store is the record that was signed");
    }
    // Say which element changed: the signed bytes carry each result's digest.
    std::map<int64_t, std::string> signedDigests;
    Array::Ptr digests = signedJson->getArray("result_digests");
    for (size_t i = 0; digests && i < digests->size(); ++i) {
      Object::Ptr d = digests->getObject(static_cast<unsigned>(i));
      if (d) {
        signedDigests[d->optValue<int64_t>("id", 0)] = d->optValue<std::string>("sha256", "");
      }
    }
    std::string what;
    for (const BatchResult& r : batch->results) {
      auto it = signedDigests.find(r.id);
      if (it == signedDigests.end()) {
        what = "result " + std::to_string(r.id) + " was not in the signed record";
        break;
      }
      if (it->second != sha256Hex(canonicalResult(r))) {
        what = "result " + std::to_string(r.id) +
               " differs from the signed version (its value, units, code, disposition or "
               "findings were changed after signing)";
        break;
      }
      signedDigests.erase(it);
    }
    if (what.empty() && !signedDigests.empty()) {
      what = "result " + std::to_string(signedDigests.begin()->first) +
             " of the signed record is gone";
    }
    if (what.empty()) what = "the earlier signatures of the batch differ from those signed over";
    answer(false, "the record recomputed from the store does not match record_sha256: " + what);
  });
}

}  // namespace labgate::api
