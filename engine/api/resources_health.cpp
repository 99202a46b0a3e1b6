// GET /api/v1/instruments/{id}/health (issue 19): an instrument's health over its last batches —
// per analyte and QC level the state of the QC trends (EWMA, CUSUM; rules/qc_trend.h) and their
// last signals, and per analyte the IS response, retention time and sensitivity series the
// batches recorded (docs/api.md). Read from the per-batch metrics; nothing is recomputed here.
#include <map>
#include <utility>

#include "engine/api/api_impl.h"
#include "engine/net/interfaces.h"

namespace labgate::api {
namespace {

/// How many signals of one trend the answer lists (newest first).
constexpr size_t kLastSignals = 10;

struct Point {
  int64_t batch = 0;
  std::string receivedAt;
  double value = 0;
};

/// One trend's series by state name ("qc_ewma", "qc_ewma_ucl", ...), oldest first.
using TrendSeries = std::map<std::string, std::vector<Point>>;

std::string direction(double signal) { return signal > 0 ? "high" : signal < 0 ? "low" : ""; }

/// The trend's state after its last batch and its last signals; null when the series lacks it.
Object::Ptr trendState(const TrendSeries& series, const std::string& prefix,
                       const std::vector<std::pair<std::string, std::string>>& fields) {
  auto signals = series.find(prefix + "_signal");
  if (signals == series.end() || signals->second.empty()) return nullptr;
  const Point& last = signals->second.back();
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("batch", last.batch);
  o->set("received_at", last.receivedAt);
  for (const auto& [name, metric] : fields) {
    auto s = series.find(metric);
    if (s != series.end() && !s->second.empty() && s->second.back().batch == last.batch) {
      o->set(name, s->second.back().value);
    }
  }
  o->set("signal", direction(last.value));
  Array::Ptr list = new Array;
  for (auto it = signals->second.rbegin(); it != signals->second.rend(); ++it) {
    if (it->value == 0) continue;
    if (list->size() >= kLastSignals) break;
    Object::Ptr s = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    s->set("batch", it->batch);
    s->set("received_at", it->receivedAt);
    s->set("direction", direction(it->value));
    list->add(s);
  }
  o->set("last_signals", list);
  return o;
}

Array::Ptr seriesArray(const std::map<std::string, std::vector<Point>>& byAnalyte) {
  Array::Ptr out = new Array;
  for (const auto& [analyte, points] : byAnalyte) {
    Object::Ptr s = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    s->set("analyte", analyte);
    Array::Ptr list = new Array;
    for (const Point& p : points) {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("batch", p.batch);
      o->set("received_at", p.receivedAt);
      o->set("value", p.value);
      list->add(o);
    }
    s->set("points", list);
    out->add(s);
  }
  return out;
}

}  // namespace

void Api::Impl::registerHealthRoutes() {
  on("GET", "/api/v1/instruments/{id}/health", [this](Call& call) {
    const std::string instrument = call.params["id"];
    int64_t batches = 20;
    for (const auto& [name, value] : call.query) {
      if (name != "batches") continue;
      Status ok = parseInteger("batches", value, 1, 1000, batches);
      if (!ok.isOk()) fail(HttpStatus::HTTP_BAD_REQUEST, ok.reason());
    }
    // An instrument the caller's organisation never received a batch from (another
    // organisation's included) is not found.
    if (!store->hasInstrument(call.principal.orgId, instrument)) {
      fail(HttpStatus::HTTP_NOT_FOUND,
           "no instrument \"" + instrument + "\" in your organisation (no batch received from it)");
    }
    Store::Diagnostics d =
        store->diagnostics(call.principal.orgId, instrument, "", static_cast<size_t>(batches));
    std::map<std::pair<std::string, std::string>, TrendSeries> trends;  // (analyte, level)
    std::map<std::string, std::vector<Point>> isResponse, retention, sensitivity;
    for (const auto& m : d.metrics) {
      Point p{m.batch, m.receivedAt, m.value};
      const size_t slash = m.metric.find('/');
      if (m.metric.rfind("qc_", 0) == 0 && slash != std::string::npos) {
        trends[{m.analyte, m.metric.substr(slash + 1)}][m.metric.substr(0, slash)].push_back(p);
      } else if (m.metric == "cal_is_area_median") {
        isResponse[m.analyte].push_back(p);
      } else if (m.metric == "cal_rt_mean") {
        retention[m.analyte].push_back(p);
      } else if (m.metric == "cal_slope") {
        sensitivity[m.analyte].push_back(p);
      }
    }
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("instrument", instrument);
    out->set("batches", batches);
    Array::Ptr qc = new Array;
    for (const auto& [key, series] : trends) {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("analyte", key.first);
      o->set("level", key.second);
      o->set("unit", "SD");
      Object::Ptr ewma =
          trendState(series, "qc_ewma",
                     {{"value", "qc_ewma"}, {"lcl", "qc_ewma_lcl"}, {"ucl", "qc_ewma_ucl"}});
      Object::Ptr cusum = trendState(
          series, "qc_cusum", {{"sh", "qc_cusum_sh"}, {"sl", "qc_cusum_sl"}, {"h", "qc_cusum_h"}});
      if (ewma) o->set("ewma", ewma);
      if (cusum) o->set("cusum", cusum);
      qc->add(o);
    }
    out->set("qc_trends", qc);
    out->set("is_response", seriesArray(isResponse));
    out->set("retention_time", seriesArray(retention));
    out->set("sensitivity", seriesArray(sensitivity));
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });
}

}  // namespace labgate::api
