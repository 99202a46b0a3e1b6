// Mapping sets stored in the database, versioned (docs/mappings.md, issue 14):
//   GET  /api/v1/mapping-sets                                  the organisation's sets
//   GET  /api/v1/mapping-sets/{name}                           versions, activations, the active
//   one GET  /api/v1/mapping-sets/{name}/versions/{version}        JSON, or the CSV (Accept:
//   text/csv) POST /api/v1/mapping-sets/{name}/versions                  a new version (body: the
//   CSV) GET  /api/v1/mapping-sets/{name}/versions/{version}/diff   added, removed, changed rows
//   POST /api/v1/mapping-sets/{name}/versions/{version}/activation
//
// Reading needs results.read, uploading and activating mappings.manage. With
// signatures.mapping_activation (the default) an activation is an electronic signature, meaning
// "approved": a person in a session, the password and on the first signing of a session the TOTP
// code, exactly as POST /api/v1/signatures (Api::Impl::reauthenticateSigner); the server's Ed25519
// key signs the activation record. Another organisation's set is 404.
#include <Poco/Logger.h>
#include <Poco/Net/MediaType.h>

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

constexpr size_t kMaxSpreadsheet = 8 << 20;

/// The {name} path parameter: a set name (404 otherwise: no such set can exist).
std::string setNameOf(const Call& call) {
  auto it = call.params.find("name");
  std::string name = it == call.params.end() ? std::string() : it->second;
  if (!isMappingSetName(name)) fail(HttpStatus::HTTP_NOT_FOUND, "no such mapping set");
  return name;
}

Object::Ptr rowJson(const MappingRow& row) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("instrument_code", row.instrumentCode);
  o->set("lis_code", row.lisCode);
  o->set("lis_name", row.lisName);
  o->set("units", row.units);
  o->set("decimals", row.decimals < 0 ? Poco::Dynamic::Var() : Poco::Dynamic::Var(row.decimals));
  return o;
}

Object::Ptr activationJson(const MappingSetActivation& a) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", a.id);
  o->set("version", a.version);
  o->set("previous_version",
         a.previousVersion == 0 ? Poco::Dynamic::Var() : Poco::Dynamic::Var(a.previousVersion));
  o->set("activated_by", a.activatedBy);
  o->set("activated_at", a.activatedAt);
  o->set("reason", a.reason);
  if (a.isSigned()) {
    Object::Ptr sig = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    sig->set("meaning", a.meaning);
    sig->set("printed_name", a.printedName);
    sig->set("signed_at", a.activatedAt);
    sig->set("key_id", a.keyId);
    sig->set("manifestation",
             "Electronically signed (" + a.meaning + ") by " + a.printedName + " " + a.activatedAt);
    sig->set("signed_bytes", security::base64Encode(a.signedBytes));
    sig->set("signature", a.signature);
    o->set("signature", sig);
  } else {
    o->set("signature", Poco::Dynamic::Var());
  }
  return o;
}

Object::Ptr versionJson(const MappingSetVersion& v, int64_t activeVersion) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("version", v.version);
  o->set("rows", v.rowCount);
  o->set("sha256", v.sha256);
  o->set("created_by", v.createdBy);
  o->set("created_at", v.createdAt);
  o->set("comment", v.comment);
  o->set("active", v.version == activeVersion);
  return o;
}

int64_t activeOf(const MappingSetSummary& s) { return s.active ? s.active->version : 0; }

Object::Ptr summaryJson(const MappingSetSummary& s) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("name", s.name);
  o->set("created_at", s.createdAt);
  o->set("latest_version", s.latestVersion);
  o->set("active_version", s.active ? Poco::Dynamic::Var(s.active->version) : Poco::Dynamic::Var());
  o->set("active", s.active ? Poco::Dynamic::Var(activationJson(*s.active)) : Poco::Dynamic::Var());
  return o;
}

/// The signed bytes of an activation: keys sorted, no white space.
std::string activationSignedBytes(const std::string& orgId, const std::string& name,
                                  const MappingSetVersion& version, int64_t previous,
                                  const MappingSetActivation& a, const User& user) {
  using util::jsonQuote;
  std::string out = "{\"key_id\":" + jsonQuote(a.keyId);
  out += ",\"meaning\":" + jsonQuote(a.meaning);
  out += ",\"org\":" + jsonQuote(orgId);
  out += ",\"previous_version\":" + std::to_string(previous);
  out += ",\"reason\":" + jsonQuote(a.reason);
  out += ",\"signed_at\":" + jsonQuote(a.activatedAt);
  out += ",\"signer\":{\"printed_name\":" + jsonQuote(user.printedName) +
         ",\"user_id\":" + std::to_string(user.id) + ",\"username\":" + jsonQuote(user.username) +
         "}";
  out += ",\"subject\":" + jsonQuote("mapping-set:" + name);
  out += ",\"version\":" + std::to_string(version.version);
  out += ",\"version_sha256\":" + jsonQuote(version.sha256) + "}";
  return out;
}

bool wantsCsv(const Call& call) {
  const std::string accept = call.request.get("Accept", "");
  return accept.find("text/csv") != std::string::npos;
}

/// Row → its values by column, for the diff.
std::map<std::string, std::string> columnsOf(const MappingRow& r) {
  return {{"lis_code", r.lisCode},
          {"lis_name", r.lisName},
          {"units", r.units},
          {"decimals", r.decimals < 0 ? std::string() : std::to_string(r.decimals)}};
}

}  // namespace

[[noreturn]] void refuseSpreadsheet(const std::vector<MappingProblemInfo>& problems) {
  Array::Ptr errors = new Array;
  for (const MappingProblemInfo& p : problems) {
    Object::Ptr e = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    e->set("line", p.line);
    e->set("column", p.column);
    e->set("column_name", p.columnName);
    e->set("message", p.message);
    errors->add(e);
  }
  Object::Ptr extra = new Object;
  extra->set("errors", errors);
  const MappingProblemInfo& first = problems.front();
  std::string detail =
      std::to_string(problems.size()) + " problem(s) in the spreadsheet; the first: ";
  if (first.line > 0) detail += "line " + std::to_string(first.line) + ": ";
  detail += first.message;
  fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, detail, extra);
}

void Api::Impl::registerMappingSetRoutes() {
  on("GET", "/api/v1/mapping-sets", [this](Call& call) {
    Array::Ptr items = new Array;
    for (const MappingSetSummary& s : mappingSets.list(call.principal.orgId)) {
      items->add(summaryJson(s));
    }
    sendItems(call, items);
  });

  on("GET", "/api/v1/mapping-sets/{name}", [this](Call& call) {
    std::optional<MappingSetDetail> set = mappingSets.get(call.principal.orgId, setNameOf(call));
    if (!set) fail(HttpStatus::HTTP_NOT_FOUND, "no such mapping set");
    Object::Ptr out = summaryJson(set->summary);
    Array::Ptr versions = new Array;
    for (const MappingSetVersion& v : set->versions) {
      versions->add(versionJson(v, activeOf(set->summary)));
    }
    out->set("versions", versions);
    Array::Ptr activations = new Array;
    for (const MappingSetActivation& a : set->activations) activations->add(activationJson(a));
    out->set("activations", activations);
    // Whether activating asks for an electronic signature (signatures.mapping_activation): the
    // console asks for the password only when it does.
    out->set("activation_signature_required", settings.signatures.mappingActivation);
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });

  on("GET", "/api/v1/mapping-sets/{name}/versions/{version}", [this](Call& call) {
    const std::string name = setNameOf(call);
    const int64_t number = call.idParam("version");
    std::optional<MappingSetDetail> set = mappingSets.get(call.principal.orgId, name);
    std::optional<MappingSetVersion> v =
        set ? mappingSets.version(call.principal.orgId, name, number) : std::nullopt;
    if (!v) fail(HttpStatus::HTTP_NOT_FOUND, "no such mapping set version");
    if (wantsCsv(call)) {
      call.response.setStatus(HttpStatus::HTTP_OK);
      call.response.setContentType("text/csv; charset=utf-8");
      call.response.set("Content-Disposition", "attachment; filename=\"" + name + "-v" +
                                                   std::to_string(number) + ".csv\"");
      call.response.set("X-Content-Type-Options", "nosniff");
      call.response.sendBuffer(v->csv.data(), v->csv.size());
      return;
    }
    Object::Ptr out = versionJson(*v, activeOf(set->summary));
    out->set("name", name);
    ParsedMappings parsed = engine.parseMappings(v->csv, name + " v" + std::to_string(number));
    Array::Ptr rows = new Array;
    for (const MappingRow& r : parsed.rows) rows->add(rowJson(r));
    out->set("mappings", rows);
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });

  on("POST", "/api/v1/mapping-sets/{name}/versions", [this](Call& call) {
    auto it = call.params.find("name");
    const std::string name = it == call.params.end() ? std::string() : it->second;
    if (!isMappingSetName(name)) {
      fail(HttpStatus::HTTP_NOT_FOUND,
           "no such mapping set, and none can have this name: a mapping set name is 1 to 64 "
           "letters, digits, '.', '_' or '-', not starting with '.'");
    }
    std::string comment;
    if (auto c = call.query.find("comment"); c != call.query.end()) comment = c->second;
    refuseControlCharacters("comment", comment);
    if (comment.size() > 2000) fail(HttpStatus::HTTP_BAD_REQUEST, "\"comment\" is too long");
    const std::string bytes = call.rawBody(kMaxSpreadsheet);
    if (bytes.empty()) {
      fail(HttpStatus::HTTP_BAD_REQUEST, "the body must be the mapping spreadsheet (CSV)");
    }
    ParsedMappings parsed = engine.parseMappings(bytes, name);
    if (!parsed.problems.empty()) refuseSpreadsheet(parsed.problems);
    const int64_t rows = static_cast<int64_t>(parsed.rows.size());
    StatusOr<int64_t> made = mappingSets.addVersion(call.principal.orgId, name, parsed.text, rows,
                                                    comment, event(call, "", "", nullptr));
    if (!made.isOk()) {
      logError(logger(), "mapping set {}: new version not stored: {}", name,
               made.status().toString());
      fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the version could not be stored; try again");
    }
    std::optional<MappingSetDetail> set = mappingSets.get(call.principal.orgId, name);
    std::optional<MappingSetVersion> v =
        mappingSets.version(call.principal.orgId, name, made.value());
    if (!set || !v) fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the version could not be read");
    logInfo(logger(), "mapping set {}: version {} ({} rows) stored by {}", name,
            static_cast<Poco::Int64>(made.value()), static_cast<Poco::Int64>(rows),
            call.principal.actor());
    Object::Ptr out = versionJson(*v, activeOf(set->summary));
    out->set("name", name);
    call.response.set("Location",
                      "/api/v1/mapping-sets/" + name + "/versions/" + std::to_string(made.value()));
    sendJson(call.response, HttpStatus::HTTP_CREATED, out);
  });

  on("GET", "/api/v1/mapping-sets/{name}/versions/{version}/diff", [this](Call& call) {
    const std::string name = setNameOf(call);
    const int64_t number = call.idParam("version");
    std::optional<MappingSetDetail> set = mappingSets.get(call.principal.orgId, name);
    std::optional<MappingSetVersion> v =
        set ? mappingSets.version(call.principal.orgId, name, number) : std::nullopt;
    if (!v) fail(HttpStatus::HTTP_NOT_FOUND, "no such mapping set version");
    // ?against=N (default: the active version; 0 = nothing, every row added).
    int64_t against = activeOf(set->summary);
    if (auto a = call.query.find("against"); a != call.query.end()) {
      int64_t n = 0;
      if (!parseInteger("against", a->second, 0, INT64_MAX, n).isOk()) {
        fail(HttpStatus::HTTP_BAD_REQUEST, "\"against\" must be a version number (0 for none)");
      }
      against = n;
    }
    std::vector<MappingRow> oldRows;
    if (against > 0) {
      std::optional<MappingSetVersion> base =
          mappingSets.version(call.principal.orgId, name, against);
      if (!base) {
        fail(HttpStatus::HTTP_NOT_FOUND, "no version " + std::to_string(against) + " of " + name);
      }
      oldRows = engine.parseMappings(base->csv, name + " v" + std::to_string(against)).rows;
    }
    std::vector<MappingRow> newRows =
        engine.parseMappings(v->csv, name + " v" + std::to_string(number)).rows;
    std::map<std::string, const MappingRow*> before;
    for (const MappingRow& r : oldRows) before[r.instrumentCode] = &r;
    Array::Ptr added = new Array;
    Array::Ptr changed = new Array;
    Array::Ptr removed = new Array;
    int64_t unchanged = 0;
    std::set<std::string> seen;
    for (const MappingRow& r : newRows) {
      seen.insert(r.instrumentCode);
      auto found = before.find(r.instrumentCode);
      if (found == before.end()) {
        added->add(rowJson(r));
        continue;
      }
      Array::Ptr columns = new Array;
      const auto oldColumns = columnsOf(*found->second);
      for (const auto& [column, value] : columnsOf(r)) {
        const std::string& old = oldColumns.at(column);
        if (old == value) continue;
        Object::Ptr c = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        c->set("column", column);
        c->set("old", old);
        c->set("new", value);
        columns->add(c);
      }
      if (columns->size() == 0) {
        ++unchanged;
        continue;
      }
      Object::Ptr change = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      change->set("instrument_code", r.instrumentCode);
      change->set("changes", columns);
      changed->add(change);
    }
    for (const MappingRow& r : oldRows) {
      if (seen.count(r.instrumentCode) == 0) removed->add(rowJson(r));
    }
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("name", name);
    out->set("version", number);
    out->set("against", against);
    out->set("added", added);
    out->set("removed", removed);
    out->set("changed", changed);
    out->set("unchanged", unchanged);
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });

  on("POST", "/api/v1/mapping-sets/{name}/versions/{version}/activation", [this](Call& call) {
    const std::string name = setNameOf(call);
    const int64_t number = call.idParam("version");
    const bool signing = settings.signatures.mappingActivation;
    Object::Ptr body;
    const bool hasBody = call.request.getChunkedTransferEncoding() ||
                         (call.request.hasContentLength() && call.request.getContentLength64() > 0);
    if (hasBody || signing) {
      body = call.body();
    } else {
      body = new Object;
    }
    static const std::set<std::string> kMembers = {"password", "totp", "meaning", "reason",
                                                   "expected_active_version"};
    for (const auto& [member, value] : *body) {
      if (kMembers.count(member) == 0) {
        fail(HttpStatus::HTTP_BAD_REQUEST, "unknown member \"" + member + "\"");
      }
    }
    const std::string reason = optString(body, "reason").value_or("");
    refuseControlCharacters("reason", reason);
    if (reason.size() > 2000) fail(HttpStatus::HTTP_BAD_REQUEST, "\"reason\" is too long");
    const std::optional<int64_t> expected = optInt(body, "expected_active_version");

    MappingSetActivation activation;
    activation.activatedBy = call.principal.actor();
    activation.reason = reason;
    std::optional<User> signer;
    if (signing) {
      const std::string password = needString(body, "password");
      const std::string meaning = needString(body, "meaning");
      const std::optional<std::string> totp = optString(body, "totp");
      if (meaning != "approved") {
        fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
             "an activation is signed with the meaning \"approved\"; got \"" + meaning + "\"");
      }
      reauthenticateSigner(call, password, totp,
                           "POST /api/v1/mapping-sets/{name}/versions/{version}/activation");
      signer = *call.principal.user;
      activation.meaning = meaning;
      activation.printedName = signer->printedName;
      activation.sessionId = call.principal.session->id;
    }

    std::optional<MappingSetDetail> set = mappingSets.get(call.principal.orgId, name);
    std::optional<MappingSetVersion> v =
        set ? mappingSets.version(call.principal.orgId, name, number) : std::nullopt;
    if (!v) fail(HttpStatus::HTTP_NOT_FOUND, "no such mapping set version");
    const int64_t previous = activeOf(set->summary);
    if (previous == number) {
      fail(HttpStatus::HTTP_CONFLICT, "version " + std::to_string(number) + " is already active");
    }
    // The version must still parse with this engine's mapping stage.
    ParsedMappings parsed = engine.parseMappings(v->csv, name + " v" + std::to_string(number));
    if (!parsed.problems.empty()) refuseSpreadsheet(parsed.problems);

    if (signing) {
      auto key = engine.signingKey();
      if (!key) fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the signing key is not loaded");
      activation.activatedAt = isoAt(clock.nowMillis() / 1000 * 1000);
      activation.keyId = key->fingerprint();
      activation.signedBytes =
          activationSignedBytes(call.principal.orgId, name, *v, previous, activation, *signer);
      activation.signature = security::base64Encode(key->sign(activation.signedBytes));
    }
    MappingActivationDraft draft;
    draft.orgId = call.principal.orgId;
    draft.setName = name;
    draft.version = number;
    draft.expectedPrevious = expected ? expected : std::optional<int64_t>(previous);
    draft.activation = activation;
    draft.audit = event(call, "", "", nullptr);
    StatusOr<MappingSetActivation> made = mappingSets.activate(draft);
    if (!made.isOk()) {
      const Status& why = made.status();
      if (why.code() == Status::Code::kRejected) fail(HttpStatus::HTTP_CONFLICT, why.reason());
      if (why.code() == Status::Code::kNotFound) {
        fail(HttpStatus::HTTP_NOT_FOUND, "no such mapping set version");
      }
      logError(logger(), "mapping set {}: activation of version {} not stored: {}", name,
               static_cast<Poco::Int64>(number), why.toString());
      fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the activation could not be stored; try again");
    }
    logInfo(logger(), "mapping set {}: version {} activated (was {}) by {}{}", name,
            static_cast<Poco::Int64>(number), static_cast<Poco::Int64>(previous),
            call.principal.actor(), std::string(signing ? ", signed" : ""));
    engine.mappingSetActivated(call.principal.orgId, name, number);
    sendJson(call.response, HttpStatus::HTTP_CREATED, activationJson(made.value()));
  });
}

}  // namespace labgate::api
