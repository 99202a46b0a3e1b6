// Resources of data and state: connectors, destinations, samples and results, uploads,
// instrument diagnostics, the audit trail and login records. Everything is scoped to the caller's
// organisation.
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>

#include "engine/api/api_impl.h"
#include "engine/net/interfaces.h"

namespace labgate::api {
namespace {

std::string queryValue(const Call& call, const std::string& name) {
  auto it = call.query.find(name);
  return it == call.query.end() ? std::string() : it->second;
}

Object::Ptr sampleJson(const SampleSummary& s) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", s.id);
  o->set("message_id", s.messageId);
  o->set("sample_id", s.sampleId);
  o->set("kind", s.kind);
  o->set("instrument", s.instrument);
  o->set("connector", s.connector);
  o->set("received_at", s.receivedAt);
  o->set("result_count", s.resultCount);
  Array::Ptr states = new Array;
  for (const auto& st : s.states) states->add(st);
  o->set("states", states);
  return o;
}

}  // namespace

void Api::Impl::registerDataRoutes() {
  registerConnectorRoutes();
  registerSampleRoutes();
  registerUploadRoutes();
  registerDiagnosticsRoutes();
  registerRecordRoutes();
}

void Api::Impl::registerConnectorRoutes() {
  // ---- connectors and destinations ----------------------------------------------------------
  auto connectorJson = [this](const EngineView::ConnectorInfo& c) {
    Object::Ptr health = engine.connectorHealth(c.name);
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    if (health) {
      for (const auto& [name, value] : *health) o->set(name, value);
    }
    o->set("name", c.name);
    o->set("kind", c.kind);
    o->set("org", c.orgId);
    o->set("instrument", c.instrument);
    o->set("mapping_set", c.mappingSet);
    if (!o->has("state")) o->set("state", "unknown");
    Array::Ptr allow = new Array;
    for (const auto& a : c.allow.toStrings()) allow->add(a);
    o->set("allow", allow);
    return o;
  };
  on("GET", "/api/v1/connectors", [this, connectorJson](Call& call) {
    Array::Ptr items = new Array;
    for (const auto& c : engine.connectorInfo()) {
      if (c.orgId == call.principal.orgId) items->add(connectorJson(c));
    }
    sendItems(call, items);
  });
  on("GET", "/api/v1/connectors/{name}", [this, connectorJson](Call& call) {
    for (const auto& c : engine.connectorInfo()) {
      if (c.orgId == call.principal.orgId && c.name == call.params["name"]) {
        sendJson(call.response, HttpStatus::HTTP_OK, connectorJson(c));
        return;
      }
    }
    fail(HttpStatus::HTTP_NOT_FOUND, "no such connector");
  });
  auto destinationJson = [this](const std::string& name, const std::string& org) {
    Object::Ptr health = engine.destinationHealth(name);
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    if (health) {
      for (const auto& [key, value] : *health) o->set(key, value);
    }
    o->set("name", name);
    o->set("org", org);
    return o;
  };
  on("GET", "/api/v1/destinations", [this, destinationJson](Call& call) {
    Array::Ptr items = new Array;
    for (const auto& [name, org] : engine.destinationOrgs()) {
      if (org == call.principal.orgId) items->add(destinationJson(name, org));
    }
    sendItems(call, items);
  });
  on("GET", "/api/v1/destinations/{name}", [this, destinationJson](Call& call) {
    auto orgs = engine.destinationOrgs();
    auto it = orgs.find(call.params["name"]);
    if (it == orgs.end() || it->second != call.principal.orgId) {
      fail(HttpStatus::HTTP_NOT_FOUND, "no such destination");
    }
    sendJson(call.response, HttpStatus::HTTP_OK, destinationJson(it->first, it->second));
  });
}

void Api::Impl::registerSampleRoutes() {
  // ---- samples and results ------------------------------------------------------------------
  on("GET", "/api/v1/samples", [this](Call& call) {
    SampleFilter filter;
    filter.sampleId = queryValue(call, "sample_id");
    filter.instrument = queryValue(call, "instrument");
    // A result disposition as the API shows it (release, hold, reject), in any case.
    filter.state = Poco::toLower(queryValue(call, "state"));
    if (!filter.state.empty() && filter.state != "release" && filter.state != "hold" &&
        filter.state != "reject") {
      fail(HttpStatus::HTTP_BAD_REQUEST,
           "\"state\" must be a result disposition: release, hold or reject (any case)");
    }
    filter.from = isoQuery(call, "from");
    filter.to = isoQuery(call, "to");
    Page<SampleSummary> page = accounts.samples(call.principal.orgId, filter, pageOf(call));
    Array::Ptr items = new Array;
    for (const auto& s : page.items) items->add(sampleJson(s));
    sendPage(call, items, page.next);
  });
  on("GET", "/api/v1/samples/{id}", [this](Call& call) {
    std::optional<SampleDetail> detail = accounts.sample(call.principal.orgId, call.idParam("id"));
    if (!detail) fail(HttpStatus::HTTP_NOT_FOUND, "no such sample");
    Object::Ptr out = sampleJson(detail->summary);
    Array::Ptr results = new Array;
    for (const auto& r : detail->results) {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("id", r.id);
      o->set("instrument_code", r.instrumentCode);
      o->set("lis_code", r.lisCode);
      o->set("lis_name", r.lisName);
      o->set("value", r.value);
      o->set("units", r.units);
      o->set("reference_range", r.referenceRange);
      o->set("flags", r.flags);
      o->set("status", r.status);
      o->set("measured_at", r.measuredAt);
      o->set("disposition", r.disposition);
      Array::Ptr findings = new Array;
      for (const auto& f : r.findings) {
        Object::Ptr fo = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        fo->set("rule", f.ruleId);
        fo->set("severity", f.severity);
        fo->set("message", f.message);
        fo->set("action", f.action);
        findings->add(fo);
      }
      o->set("findings", findings);
      results->add(o);
    }
    out->set("results", results);
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });
}

void Api::Impl::registerUploadRoutes() {
  // ---- uploads ------------------------------------------------------------------------------
  on("POST", "/api/v1/uploads", [this](Call& call) {
    const std::string wanted = queryValue(call, "connector");
    std::vector<EngineView::ConnectorInfo> mine;
    for (const auto& c : engine.connectorInfo()) {
      if (c.upload && c.orgId == call.principal.orgId && (wanted.empty() || c.name == wanted)) {
        mine.push_back(c);
      }
    }
    if (mine.empty()) {
      fail(HttpStatus::HTTP_NOT_FOUND, wanted.empty()
                                           ? "no connector of kind upload is configured for your "
                                             "organisation"
                                           : "no upload connector is named \"" + wanted + "\"");
    }
    if (mine.size() > 1) {
      fail(HttpStatus::HTTP_NOT_FOUND,
           "several upload connectors are configured: name one with ?connector=");
    }
    // Without ?connector= the allow-list was not checked before the credentials (which
    // organisation's connector was meant is known only now).
    if (wanted.empty() && !mine.front().allow.allows(call.request.clientAddress().host())) {
      fail(HttpStatus::HTTP_FORBIDDEN,
           "uploads from this address are not allowed for connector \"" + mine.front().name +
               "\" (connector." + mine.front().name + ".allow)");
    }
    const Principal& p = call.principal;
    if (p.key && !p.key->connector.empty() && p.key->connector != mine.front().name) {
      fail(HttpStatus::HTTP_FORBIDDEN,
           "this API key is limited to connector \"" + p.key->connector + "\"");
    }
    mine.front().upload->handleUpload(call.request, call.response);
  });
}

void Api::Impl::registerDiagnosticsRoutes() {
  // ---- diagnostics --------------------------------------------------------------------------
  // GET /api/v1/instruments/{id}/diagnostics?analyte=&batches=: the JSON series the console
  // charts (per-batch metrics, QC Levey-Jennings points, failures by rule).
  on("GET", "/api/v1/instruments/{id}/diagnostics", [this](Call& call) {
    const std::string instrument = call.params["id"];
    std::string analyte;
    int64_t batches = 20;
    for (const auto& [name, value] : call.query) {
      if (name == "analyte") analyte = value;
      if (name == "batches") {
        Status ok = parseInteger("batches", value, 1, 1000, batches);
        if (!ok.isOk()) {
          fail(HttpStatus::HTTP_BAD_REQUEST, ok.reason());
        }
      }
    }
    Store::Diagnostics d =
        store->diagnostics(call.principal.orgId, instrument, analyte, static_cast<size_t>(batches));
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("instrument", instrument);
    out->set("batches", batches);
    Array::Ptr metrics = new Array;
    Object::Ptr series;
    Array::Ptr points;
    std::string key;
    for (const auto& m : d.metrics) {
      if (m.analyte + "\n" + m.metric != key) {
        key = m.analyte + "\n" + m.metric;
        series = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        points = new Array;
        series->set("analyte", m.analyte);
        series->set("metric", m.metric);
        series->set("points", points);
        metrics->add(series);
      }
      Object::Ptr p = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      p->set("batch", m.batch);
      p->set("received_at", m.receivedAt);
      p->set("value", m.value);
      points->add(p);
    }
    out->set("metrics", metrics);
    Array::Ptr qc = new Array;
    key.clear();
    for (const auto& q : d.qc) {
      if (q.analyte + "\n" + q.level + "\n" + q.lot != key) {
        key = q.analyte + "\n" + q.level + "\n" + q.lot;
        series = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        points = new Array;
        series->set("analyte", q.analyte);
        series->set("level", q.level);
        series->set("lot", q.lot);
        series->set("points", points);
        qc->add(series);
      }
      Object::Ptr p = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      p->set("batch", q.batch);
      p->set("received_at", q.receivedAt);
      p->set("sample_id", q.sampleId);
      p->set("value", q.value);
      if (q.mean && q.sd && *q.sd > 0) {
        p->set("target_mean", *q.mean);
        p->set("target_sd", *q.sd);
        p->set("z", (q.value - *q.mean) / *q.sd);
      }
      p->set("run_rejected", q.runRejected);
      points->add(p);
    }
    out->set("qc", qc);
    Array::Ptr failures = new Array;
    for (const auto& f : d.failuresByRule) {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("rule", f.ruleId);
      o->set("count", f.failures);
      failures->add(o);
    }
    out->set("failures_by_rule", failures);
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });
}

void Api::Impl::registerRecordRoutes() {
  // ---- records ------------------------------------------------------------------------------
  on("GET", "/api/v1/audit", [this](Call& call) {
    AuditFilter filter;
    filter.from = isoQuery(call, "from");
    filter.to = isoQuery(call, "to");
    filter.actor = queryValue(call, "actor");
    filter.action = queryValue(call, "action");
    filter.subject = queryValue(call, "subject");
    Page<AuditRecord> page = accounts.audit(call.principal.orgId, filter, pageOf(call));
    Array::Ptr items = new Array;
    for (const auto& a : page.items) {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("id", a.id);
      o->set("at", a.at);
      o->set("actor", a.actor);
      o->set("action", a.action);
      o->set("subject", a.subject);
      try {
        o->set("detail", Poco::JSON::Parser().parse(a.detail));
      } catch (const Poco::Exception&) {
        o->set("detail", a.detail);
      }
      o->set("hash", a.hash);
      items->add(o);
    }
    sendPage(call, items, page.next);
  });
  on("GET", "/api/v1/logins", [this](Call& call) {
    LoginFilter filter;
    filter.from = isoQuery(call, "from");
    filter.to = isoQuery(call, "to");
    filter.username = queryValue(call, "user");
    filter.outcome = queryValue(call, "outcome");
    Page<LoginRecord> page = accounts.logins(call.principal.orgId, filter, pageOf(call));
    Array::Ptr items = new Array;
    for (const auto& l : page.items) {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("id", l.id);
      o->set("at", l.at);
      o->set("org", l.orgId);
      o->set("user", l.username);
      o->set("method", l.method);
      o->set("peer", l.peer);
      o->set("user_agent", l.userAgent);
      o->set("outcome", l.outcome);
      items->add(o);
    }
    sendPage(call, items, page.next);
  });
}

}  // namespace labgate::api
