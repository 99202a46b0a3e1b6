// The web console's read models (issue 15, docs/api.md "The console's read models"):
//   GET /api/v1/batches/{id}/charts   what the batch view draws, per analyte: the calibration
//       curve (fitted by the connector's rule set through EngineView::calibrationCurve, so the
//       chart shows the curve the rules judged), the internal-standard response per injection and
//       the QC series of each level (Levey-Jennings) with the Westgard violations of the batch.
//   GET /api/v1/overview?minutes=60   the dashboard's numbers: throughput per minute, the held
//       backlog and the dead letters of the caller's organisation.
//
// Why the curve is fitted on request rather than stored when the rules fit it: engine/api may not
// link rules/ (tests/engine_layering.cmake), and the engine already holds each connector's rule
// set, so one hook (like EngineView::identifyingPattern for the PHI gate) reaches the very code
// and settings the rules use, with no schema change, and batches stored before this issue are
// drawn too. The price: a batch evaluated under an earlier rule-set version is drawn with the
// connector's current one (`rules_version` in the answer names the version of its findings).
#include <Poco/NumberParser.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "engine/api/api_impl.h"
#include "engine/store/console_store.h"
#include "engine/store/reevaluation_store.h"
#include "engine/store/traffic.h"

namespace labgate::api {
namespace {

constexpr int64_t kQcEarlierValues = 20;  // earlier QC values drawn before this batch's
constexpr int64_t kMinuteMillis = 60000;
constexpr int64_t kMinMinutes = 5;
constexpr int64_t kMaxMinutes = 1440;

/// A number, or null when absent or not finite.
Poco::Dynamic::Var numberOrNull(const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) return Poco::Dynamic::Var();
  return *v;
}

/// The analytes of a batch as the rules name them (the instrument code of every result that is
/// not an internal standard), in the order they first appear.
std::vector<const Result*> analytesOf(const Message& batch) {
  std::vector<const Result*> out;
  std::set<std::string> seen;
  for (const Sample& s : batch.samples) {
    for (const Result& r : s.results) {
      if (!r.internalStandard && seen.insert(r.instrumentCode).second) out.push_back(&r);
    }
  }
  return out;
}

const Result* resultOf(const Sample& sample, const std::string& analyte) {
  for (const Result& r : sample.results) {
    if (!r.internalStandard && r.instrumentCode == analyte) return &r;
  }
  return nullptr;
}

/// The internal standard the analyte's peaks name ("" when none does).
std::string internalStandardOf(const Message& batch, const std::string& analyte) {
  for (const Sample& s : batch.samples) {
    const Result* r = resultOf(s, analyte);
    if (r && r->peak && !r->peak->internalStandard.empty()) return r->peak->internalStandard;
  }
  return "";
}

Object::Ptr calibrationJson(const CalibrationCurveView& curve, const Message& batch,
                            const std::string& analyte) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("model", curve.model);
  o->set("weighting", curve.weighting);
  std::string origin;
  for (const ExportCurve& c : batch.curves) {
    if (c.analyte == analyte) origin = c.origin;
  }
  o->set("origin", origin);
  o->set("fitted", curve.fitted);
  o->set("error", curve.error);
  Array::Ptr coefficients = new Array;
  for (double c : curve.coefficients) coefficients->add(c);
  o->set("coefficients", coefficients);
  o->set("r_squared", numberOrNull(curve.rSquared));
  Array::Ptr points = new Array;
  for (const CalibrationCurveView::Point& p : curve.points) {
    Object::Ptr j = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    j->set("sample_id", p.sampleId);
    j->set("level", p.level);
    j->set("expected", numberOrNull(p.expected));
    j->set("response", numberOrNull(p.response));
    j->set("calculated", numberOrNull(p.calculated));
    j->set("accuracy", numberOrNull(p.accuracy));
    j->set("excluded", p.excluded);
    points->add(j);
  }
  o->set("points", points);
  return o;
}

/// The IS area of each injection that has the analyte: the analyte's peak's IS area, else the
/// area of the IS result it names in the same sample. Injection: Sample::injection, else the
/// position in the batch (1-based).
Array::Ptr isResponseJson(const Message& batch, const std::string& analyte,
                          const std::string& internalStandard) {
  Array::Ptr out = new Array;
  for (size_t i = 0; i < batch.samples.size(); ++i) {
    const Sample& s = batch.samples[i];
    const Result* r = resultOf(s, analyte);
    if (!r) continue;
    // NaN for "none" rather than an optional: GCC 12 at -O3 takes a copied optional<double> for
    // uninitialised (-Wmaybe-uninitialized) once inlined into Poco::Dynamic::Var.
    const double kNone = std::numeric_limits<double>::quiet_NaN();
    double isArea =
        r->peak && r->peak->internalStandardArea ? *r->peak->internalStandardArea : kNone;
    for (const Result& is : s.results) {
      if (!std::isnan(isArea) || internalStandard.empty()) break;
      if (is.internalStandard && is.instrumentCode == internalStandard && is.peak &&
          is.peak->area) {
        isArea = *is.peak->area;
      }
    }
    if (!std::isfinite(isArea)) continue;
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("sample_id", s.sampleId);
    o->set("kind", toString(s.kind));
    o->set("injection", s.injection ? *s.injection : static_cast<int64_t>(i + 1));
    o->set("area", isArea);
    out->add(o);
  }
  return out;
}

bool isWestgard(const BatchFinding& f) { return f.finding.ruleId.rfind("qc.westgard.", 0) == 0; }

/// The Westgard rule names ("1_3s") of the batch's findings that concern this batch's QC value
/// `point`: the finding names its sample ("..., sample QC-1)"); a finding that names none of
/// this batch's values concerns every value of its scope (the level it names, or all levels).
std::vector<std::string> violationsOf(const ConsoleQcPoint& point,
                                      const std::vector<ConsoleQcPoint>& thisBatch,
                                      const std::vector<const BatchFinding*>& westgard) {
  std::vector<std::string> out;
  for (const BatchFinding* f : westgard) {
    const std::string& text = f->finding.measured;
    const std::string name = f->finding.ruleId.substr(std::string("qc.westgard.").size());
    bool namesAny = false;
    for (const ConsoleQcPoint& p : thisBatch) {
      namesAny = namesAny || text.find("sample " + p.sampleId + ")") != std::string::npos;
    }
    bool concerns = false;
    if (namesAny) {
      concerns = text.find("sample " + point.sampleId + ")") != std::string::npos;
    } else {
      const std::string& scope = f->finding.limit;
      concerns = scope.find("(level ") == std::string::npos ||
                 scope.find("(level " + point.level) != std::string::npos;
    }
    if (concerns && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

Array::Ptr qcJson(const std::vector<ConsoleQcPoint>& series, int64_t batchId,
                  const std::vector<const BatchFinding*>& westgard) {
  std::vector<ConsoleQcPoint> thisBatch;
  for (const ConsoleQcPoint& p : series) {
    if (p.batch == batchId) thisBatch.push_back(p);
  }
  Array::Ptr out = new Array;
  // qcSeries answers each (level, lot) together, earlier values first, then this batch's.
  size_t i = 0;
  while (i < series.size()) {
    size_t end = i;
    while (end < series.size() && series[end].level == series[i].level &&
           series[end].lot == series[i].lot) {
      ++end;
    }
    // The target this batch was judged against: its last value's.
    const ConsoleQcPoint& last = series[end - 1];
    Object::Ptr level = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    level->set("level", last.level);
    level->set("lot", last.lot);
    level->set("mean", numberOrNull(last.targetMean));
    level->set("sd", numberOrNull(last.targetSd));
    Array::Ptr points = new Array;
    for (size_t k = i; k < end; ++k) {
      const ConsoleQcPoint& p = series[k];
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("batch", p.batch);
      o->set("received_at", p.receivedAt);
      o->set("sample_id", p.sampleId);
      o->set("value", p.value);
      std::optional<double> z;
      if (last.targetMean && last.targetSd && *last.targetSd > 0) {
        z = (p.value - *last.targetMean) / *last.targetSd;
      }
      o->set("z", numberOrNull(z));
      o->set("this_batch", p.batch == batchId);
      o->set("excluded", p.excluded);
      Array::Ptr violations = new Array;
      if (p.batch == batchId) {
        for (const std::string& v : violationsOf(p, thisBatch, westgard)) violations->add(v);
      }
      o->set("violations", violations);
      points->add(o);
    }
    level->set("points", points);
    out->add(level);
    i = end;
  }
  return out;
}

}  // namespace

void Api::Impl::registerConsoleRoutes() {
  on("GET", "/api/v1/batches/{id}/charts", [this](Call& call) {
    refuseUnknownQuery(call, {}, "none");
    const std::string& org = call.principal.orgId;
    std::optional<StoredBatch> stored = ReevaluationStore(store).batch(org, call.idParam("id"));
    if (!stored) fail(HttpStatus::HTTP_NOT_FOUND, "no such batch");
    const Message& batch = stored->message;
    ConsoleStore console(store);
    Array::Ptr analytes = new Array;
    for (const Result* first : analytesOf(batch)) {
      const std::string& analyte = first->instrumentCode;
      Object::Ptr a = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      a->set("analyte", analyte);
      a->set("lis_code", first->lisCode);
      a->set("lis_name", first->lisName);
      a->set("units", first->units);
      const std::string internalStandard = internalStandardOf(batch, analyte);
      a->set("internal_standard", internalStandard);
      std::optional<CalibrationCurveView> curve =
          engine.calibrationCurve(org, stored->connector, batch, analyte);
      a->set("calibration", curve ? Poco::Dynamic::Var(calibrationJson(*curve, batch, analyte))
                                  : Poco::Dynamic::Var());
      a->set("internal_standard_response", isResponseJson(batch, analyte, internalStandard));
      std::vector<const BatchFinding*> westgard;
      Array::Ptr findings = new Array;
      for (const BatchFinding& f : batch.batchFindings) {
        if (f.analyte != analyte) continue;
        if (isWestgard(f)) westgard.push_back(&f);
        Object::Ptr o =
            findingJson(f.finding.ruleId, toString(f.finding.severity), f.finding.message,
                        f.finding.measured, f.finding.limit, toString(f.finding.action));
        o->set("analyte", f.analyte);
        findings->add(o);
      }
      a->set("qc", qcJson(console.qcSeries(org, stored->instrument, analyte, stored->id,
                                           kQcEarlierValues),
                          stored->id, westgard));
      a->set("findings", findings);
      analytes->add(a);
    }
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("batch", stored->id);
    out->set("rules_version", stored->rulesVersion);
    out->set("analytes", analytes);
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });

  on("GET", "/api/v1/overview", [this](Call& call) {
    refuseUnknownQuery(call, {"minutes"}, "minutes");
    int64_t minutes = 60;
    auto given = call.query.find("minutes");
    if (given != call.query.end()) {
      Poco::Int64 parsed = 0;
      if (!Poco::NumberParser::tryParse64(given->second, parsed) || parsed < kMinMinutes ||
          parsed > kMaxMinutes) {
        Object::Ptr extra = new Object;
        extra->set("parameter", "minutes");
        fail(HttpStatus::HTTP_BAD_REQUEST, "\"minutes\" must be a whole number from 5 to 1440",
             extra);
      }
      minutes = parsed;
    }
    const std::string& org = call.principal.orgId;
    const int64_t now = clock.nowMillis();
    const int64_t first = (now / kMinuteMillis - (minutes - 1)) * kMinuteMillis;
    ConsoleStore console(store);
    std::map<std::string, ConsoleMinute> counted;
    for (ConsoleMinute& m : console.throughput(org, isoAt(first))) counted[m.minute] = m;
    Array::Ptr throughput = new Array;
    for (int64_t i = 0; i < minutes; ++i) {
      const std::string at = isoAt(first + i * kMinuteMillis);
      auto it = counted.find(at.substr(0, 16));
      const ConsoleMinute none;
      const ConsoleMinute& m = it == counted.end() ? none : it->second;
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("at", at.substr(0, 16) + ":00Z");
      o->set("received", m.received);
      o->set("refused", m.refused);
      o->set("results", m.results);
      o->set("delivered", m.delivered);
      throughput->add(o);
    }
    const ConsoleHeld held = console.held(org);
    Object::Ptr heldJson = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    heldJson->set("batches", held.batches);
    heldJson->set("results", held.results);
    heldJson->set("oldest_received_at", held.oldestReceivedAt
                                            ? Poco::Dynamic::Var(*held.oldestReceivedAt)
                                            : Poco::Dynamic::Var());
    int64_t deadLetters = 0;
    TrafficStore traffic(store);
    for (const auto& [destination, owner] : engine.destinationOrgs()) {
      if (owner == org) deadLetters += traffic.deadLetterCount(destination);
    }
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("generated_at", isoAt(now));
    out->set("minutes", minutes);
    out->set("throughput", throughput);
    out->set("held", heldJson);
    out->set("dead_letters", deadLetters);
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });
}

}  // namespace labgate::api
