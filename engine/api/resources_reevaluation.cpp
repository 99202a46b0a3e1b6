// Held results evaluated again, and the codes that arrive without a mapping (issue 14;
// docs/mappings.md, docs/adr/0014-reevaluation.md):
//   POST /api/v1/batches/{id}/reevaluation          evaluate a batch again (or try it: dry_run)
//   POST /api/v1/instruments/{id}/mapping-dry-run   a mapping set (CSV) tried on the last batches
//   GET  /api/v1/unmapped-codes                      codes seen without a mapping
#include <Poco/Logger.h>

#include <set>

#include "engine/api/api_impl.h"
#include "engine/log/log.h"

namespace labgate::api {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("api"); }

Array::Ptr stringArray(const std::vector<std::string>& items) {
  Array::Ptr out = new Array;
  for (const auto& item : items) out->add(item);
  return out;
}

Object::Ptr sideJson(const std::string& lisCode, const std::string& units,
                     const std::string& disposition, int decimals,
                     const std::vector<std::string>& findings) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("lis_code", lisCode);
  o->set("units", units);
  o->set("decimals", decimals < 0 ? Poco::Dynamic::Var() : Poco::Dynamic::Var(decimals));
  o->set("disposition", disposition);
  o->set("findings", stringArray(findings));
  return o;
}

/// The members a JSON body may have (400 naming the first other one).
void onlyMembers(const Object::Ptr& body, const std::set<std::string>& known) {
  for (const auto& [name, value] : *body) {
    if (known.count(name) == 0)
      fail(HttpStatus::HTTP_BAD_REQUEST, "unknown member \"" + name + "\"");
  }
}

/// A candidate mapping set from the body's "mappings_csv" (422 naming the line otherwise).
std::shared_ptr<const MappingStage> candidateOf(const EngineView& engine, const std::string& csv) {
  ParsedMappings parsed = engine.parseMappings(csv, "mappings_csv");
  if (!parsed.problems.empty()) refuseSpreadsheet(parsed.problems);
  return parsed.stage;
}

/// ?last= (1..1000, default 100); a query parameter outside `known` (which includes "last")
/// answers 400 naming it.
int64_t lastQuery(const Call& call, const std::set<std::string>& known) {
  std::string names;
  for (const auto& k : known) {
    if (!names.empty()) names += ", ";
    names += k;
  }
  refuseUnknownQuery(call, known, names);
  int64_t last = 100;
  auto given = call.query.find("last");
  if (given != call.query.end() && !parseInteger("last", given->second, 1, 1000, last).isOk()) {
    fail(HttpStatus::HTTP_BAD_REQUEST, "\"last\" must be a whole number from 1 to 1000");
  }
  return last;
}

Reevaluator& reevaluatorOf(const EngineView& engine) {
  Reevaluator* r = engine.reevaluator();
  if (r == nullptr) fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "re-evaluation is not running");
  return *r;
}

}  // namespace

Object::Ptr reevaluationJson(const ReevaluationOutcome& outcome) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("batch", outcome.batchId);
  o->set("connector", outcome.connector);
  o->set("instrument", outcome.instrument);
  o->set("dry_run", outcome.dryRun);
  o->set("committed", outcome.committed);
  o->set("reevaluation",
         outcome.committed ? Poco::Dynamic::Var(outcome.reevaluationId) : Poco::Dynamic::Var());
  o->set("rules_version", outcome.rulesVersion);
  o->set("signed", outcome.signedBatch);
  o->set("changed", outcome.changed);
  o->set("released", outcome.released);
  o->set("outbound", outcome.outbound);
  o->set("notes", stringArray(outcome.notes));
  Array::Ptr results = new Array;
  for (const ResultChange& c : outcome.results) {
    Object::Ptr r = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    r->set("result", c.resultId);
    r->set("sample_kind", c.sampleKind);
    r->set("instrument_code", c.instrumentCode);
    r->set("old",
           sideJson(c.oldLisCode, c.oldUnits, c.oldDisposition, c.oldDecimals, c.oldFindings));
    r->set("new",
           sideJson(c.newLisCode, c.newUnits, c.newDisposition, c.newDecimals, c.newFindings));
    r->set("changes", stringArray(c.changes));
    r->set("eligible", c.eligible);
    r->set("kept", c.kept.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(c.kept));
    r->set("applies", c.applies);
    results->add(r);
  }
  o->set("results", results);
  return o;
}

Object::Ptr dryRunJson(const DryRunReport& report) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("instrument", report.instrument);
  o->set("batches", report.batches);
  o->set("results", report.results);
  Object::Ptr summary = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  summary->set("newly_mapped", report.newlyMapped);
  summary->set("still_unmapped", report.stillUnmapped);
  summary->set("now_unmapped", report.nowUnmapped);
  summary->set("code_changed", report.codeChanged);
  summary->set("units_mismatch", report.unitsMismatch);
  summary->set("decimals_changed", report.decimalsChanged);
  summary->set("would_change", report.wouldChange);
  summary->set("would_release", report.wouldRelease);
  o->set("summary", summary);
  Array::Ptr batches = new Array;
  for (const ReevaluationOutcome& outcome : report.outcomes) {
    batches->add(reevaluationJson(outcome));
  }
  o->set("items", batches);
  return o;
}

void Api::Impl::registerReevaluationRoutes() {
  on("POST", "/api/v1/batches/{id}/reevaluation", [this](Call& call) {
    const int64_t batchId = call.idParam("id");
    Object::Ptr body = call.body();
    onlyMembers(body, {"reason", "dry_run", "mappings_csv"});
    const std::string reason = optString(body, "reason").value_or("");
    const bool dryRun = optBool(body, "dry_run").value_or(false);
    const std::optional<std::string> csv = optString(body, "mappings_csv");
    refuseControlCharacters("reason", reason);
    if (reason.size() > 2000) fail(HttpStatus::HTTP_BAD_REQUEST, "\"reason\" is too long");
    if (!dryRun && reason.empty()) {
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
           "a reason is required to evaluate a batch again (\"reason\"); it is audited");
    }
    if (csv && !dryRun) {
      fail(HttpStatus::HTTP_BAD_REQUEST,
           "\"mappings_csv\" is only tried (\"dry_run\": true): activate a mapping set to use it");
    }
    Reevaluator& reevaluator = reevaluatorOf(engine);
    ReevaluationRequest request;
    request.orgId = call.principal.orgId;
    request.batchId = batchId;
    request.actor = call.principal.actor();
    request.reason = reason;
    request.commit = !dryRun;
    if (csv) request.mappings = candidateOf(engine, *csv);
    StatusOr<ReevaluationOutcome> done = reevaluator.reevaluate(request);
    if (!done.isOk()) {
      const Status& why = done.status();
      switch (why.code()) {
        case Status::Code::kNotFound:
          fail(HttpStatus::HTTP_NOT_FOUND, "no such batch");
        case Status::Code::kRejected:     // signed, or changed meanwhile
        case Status::Code::kUnavailable:  // its connector is not configured any more
          fail(HttpStatus::HTTP_CONFLICT, why.reason());
        default:
          logError(logger(), "re-evaluating batch {} failed: {}", static_cast<Poco::Int64>(batchId),
                   why.toString());
          fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE,
               "the re-evaluation could not be stored; try again");
      }
    }
    sendJson(call.response, HttpStatus::HTTP_OK, reevaluationJson(done.value()));
  });

  on("POST", "/api/v1/instruments/{id}/mapping-dry-run", [this](Call& call) {
    const std::string instrument = call.params.at("id");
    const int64_t last = lastQuery(call, {"last"});
    Object::Ptr body = call.body();
    onlyMembers(body, {"mappings_csv"});
    std::shared_ptr<const MappingStage> candidate =
        candidateOf(engine, needString(body, "mappings_csv"));
    DryRunReport report =
        reevaluatorOf(engine).dryRun(call.principal.orgId, instrument, last, candidate);
    sendJson(call.response, HttpStatus::HTTP_OK, dryRunJson(report));
  });

  on("POST", "/api/v1/mapping-sets/{name}/versions/{version}/dry-run", [this](Call& call) {
    const std::string name = call.params.at("name");
    const int64_t number = call.idParam("version");
    const int64_t last = lastQuery(call, {"instrument", "last"});
    auto instrument = call.query.find("instrument");
    if (instrument == call.query.end() || instrument->second.empty()) {
      fail(HttpStatus::HTTP_BAD_REQUEST,
           "\"instrument\" is required: the instrument whose stored batches the version is tried "
           "on");
    }
    std::optional<MappingSetVersion> v =
        isMappingSetName(name) ? mappingSets.version(call.principal.orgId, name, number)
                               : std::nullopt;
    if (!v) fail(HttpStatus::HTTP_NOT_FOUND, "no such mapping set version");
    ParsedMappings parsed = engine.parseMappings(v->csv, name + " v" + std::to_string(number));
    if (!parsed.problems.empty()) refuseSpreadsheet(parsed.problems);
    DryRunReport report =
        reevaluatorOf(engine).dryRun(call.principal.orgId, instrument->second, last, parsed.stage);
    Object::Ptr out = dryRunJson(report);
    out->set("mapping_set", name);
    out->set("version", number);
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });

  on("GET", "/api/v1/unmapped-codes", [this](Call& call) {
    std::string instrument;
    refuseUnknownQuery(call, {"instrument"}, "instrument");
    for (const auto& [name, value] : call.query) {
      if (value.empty()) fail(HttpStatus::HTTP_BAD_REQUEST, "\"instrument\" must not be empty");
      instrument = value;
    }
    Array::Ptr items = new Array;
    for (const UnmappedCode& u :
         ReevaluationStore(store).unmappedCodes(call.principal.orgId, instrument)) {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("instrument", u.instrument);
      o->set("code", u.code);
      o->set("results", u.results);
      o->set("first_seen", u.firstSeen);
      o->set("last_seen", u.lastSeen);
      o->set("waiting", u.waiting);
      items->add(o);
    }
    sendItems(call, items);
  });
}

}  // namespace labgate::api
