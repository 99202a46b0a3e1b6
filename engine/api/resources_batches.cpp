// Batches for QA review (docs/api.md "Batches", docs/signatures.md): every stored message is a
// batch; it is held while any of its results waits for a QA decision.
//   GET /api/v1/batches?state=held|released|rejected&instrument=&from=&to=&limit=&before=
//   GET /api/v1/batches/{id}: samples, results with their findings, batch findings, signatures
//       so far and the record_sha256 a signature of this version must name.
// Query parameters are checked: an unknown one, or an unknown state, answers 400.
#include <Poco/String.h>

#include <set>

#include "engine/api/api_impl.h"
#include "engine/store/audit.h"

namespace labgate::api {
namespace {

/// "held", "released" or "rejected" for a state as the caller wrote it (any case; the result
/// dispositions hold, release and reject name them too); "" when it is none of them.
std::string batchState(const std::string& text) {
  const std::string s = Poco::toLower(text);
  if (s == "held" || s == "hold") return "held";
  if (s == "released" || s == "release") return "released";
  if (s == "rejected" || s == "reject") return "rejected";
  return "";
}

/// What follows the leading number of a finding's measured text ("12.5 %" → "%"), or "".
std::string unitOf(const std::string& measured) {
  size_t i = 0;
  if (i < measured.size() && (measured[i] == '-' || measured[i] == '+')) ++i;
  const size_t digits = i;
  while (i < measured.size() && ((measured[i] >= '0' && measured[i] <= '9') || measured[i] == '.' ||
                                 measured[i] == 'e' || measured[i] == 'E')) {
    ++i;
  }
  if (i == digits) return "";
  while (i < measured.size() && measured[i] == ' ') ++i;
  return measured.substr(i);
}

Object::Ptr summaryJson(const BatchSummary& b) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", b.id);
  o->set("state", b.state);
  o->set("connector", b.connector);
  o->set("instrument", b.instrument);
  o->set("format", b.format);
  o->set("source_name", b.sourceName);
  o->set("received_at", b.receivedAt);
  o->set("sample_count", b.sampleCount);
  o->set("result_count", b.resultCount);
  o->set("waiting", b.waiting);
  Array::Ptr signedSoFar = new Array;
  for (const std::string& meaning : b.meaningsSigned) signedSoFar->add(meaning);
  o->set("signed", signedSoFar);
  return o;
}

}  // namespace

Object::Ptr findingJson(const std::string& rule, const std::string& severity,
                        const std::string& message, const std::string& measured,
                        const std::string& limit, const std::string& action) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("rule", rule);
  o->set("severity", severity);
  o->set("message", message);
  o->set("measured", measured);
  o->set("limit", limit);
  o->set("unit", unitOf(measured));
  o->set("action", action);
  return o;
}

void Api::Impl::registerBatchRoutes() {
  on("GET", "/api/v1/batches", [this](Call& call) {
    refuseUnknownQuery(call, {"state", "instrument", "from", "to", "limit", "before"},
                       "state, instrument, from, to, limit, before");
    BatchFilter filter;
    auto state = call.query.find("state");
    if (state != call.query.end()) {
      filter.state = batchState(state->second);
      if (filter.state.empty()) {
        fail(HttpStatus::HTTP_BAD_REQUEST,
             "\"state\" must be held, released or rejected (any case)");
      }
    }
    auto instrument = call.query.find("instrument");
    if (instrument != call.query.end()) {
      if (instrument->second.empty()) {
        fail(HttpStatus::HTTP_BAD_REQUEST, "\"instrument\" must not be empty");
      }
      filter.instrument = instrument->second;
    }
    filter.from = isoQuery(call, "from");
    filter.to = isoQuery(call, "to");
    Page<BatchSummary> page = signatures.batches(call.principal.orgId, filter, pageOf(call));
    Array::Ptr items = new Array;
    for (const auto& b : page.items) items->add(summaryJson(b));
    sendPage(call, items, page.next);
  });

  on("GET", "/api/v1/batches/{id}", [this](Call& call) {
    std::optional<BatchDetail> detail = signatures.batch(call.principal.orgId, call.idParam("id"));
    if (!detail) fail(HttpStatus::HTTP_NOT_FOUND, "no such batch");
    Object::Ptr out = summaryJson(detail->summary);
    Array::Ptr samples = new Array;
    Object::Ptr sample;
    Array::Ptr results;
    int64_t sampleRow = 0;
    for (const BatchResult& r : detail->results) {
      if (!sample || r.sampleRow != sampleRow) {
        sampleRow = r.sampleRow;
        sample = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        results = new Array;
        sample->set("id", r.sampleRow);
        sample->set("sample_id", r.sampleId);
        sample->set("kind", r.sampleKind);
        sample->set("results", results);
        samples->add(sample);
      }
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("id", r.id);
      o->set("instrument_code", r.instrumentCode);
      o->set("lis_code", r.lisCode);
      o->set("lis_name", r.lisName);
      o->set("value", r.value);
      o->set("units", r.units);
      o->set("reference_range", r.referenceRange);
      o->set("status", r.status);
      o->set("disposition", r.disposition);
      o->set("qa_state", r.qaState);
      o->set("waiting", r.waiting());
      Array::Ptr findings = new Array;
      for (const auto& f : r.findings) {
        findings->add(findingJson(f.ruleId, f.severity, f.message, f.measured, f.limit, f.action));
      }
      o->set("findings", findings);
      results->add(o);
    }
    out->set("samples", samples);
    Array::Ptr batchFindings = new Array;
    for (const auto& f : detail->batchFindings) {
      Object::Ptr o = findingJson(f.ruleId, f.severity, f.message, f.measured, f.limit, f.action);
      o->set("analyte", f.analyte);
      batchFindings->add(o);
    }
    out->set("batch_findings", batchFindings);
    Array::Ptr signedSoFar = new Array;
    for (const auto& sig : detail->signatures) signedSoFar->add(signatureJson(sig, false));
    out->set("signatures", signedSoFar);
    out->set("record_sha256",
             sha256Hex(canonicalRecord(detail->summary.id, detail->results, detail->signatures)));
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });
}

}  // namespace labgate::api
