// gen_year (issue 17, "Scale"): a busy laboratory's year written into a store through the store's
// own write path, so the rows are the ones the engine writes (Store::commitInbound for every
// message and batch, Store::claimQueued + Store::recordOutcomes for the deliveries, with the audit
// events both write), and the same program fills any back end Store::open supports.
//
//   gen_year (--data-dir DIR | --config FILE) [--results N] [--days D] [--seed S]
//            [--start YYYY-MM-DD] [--writers W] [--lcms-share F] [--batch-samples B]
//            [--analytes A] [--key-file KEY] [--store-url URL --password-file FILE]
//            [--resume] [--quiet]
//
// The lab: 50 instruments. 15 LC-MS/MS systems (MassHunter, SCIEX and TargetLynx exports) send
// batches of ~B injections (a blank, 8 calibrators, 6 QCs, the rest patient samples) × A analytes,
// each with 2 internal standards and peak data for every result, QC values, per-batch metrics, the
// export's curves and sometimes a batch finding; 20 HL7 and 15 ASTM analysers send one message per
// sample (4-16 results). About 5 % of the results are held with a finding. Every released result
// goes to the LIS ("lis") in an HL7 ORU per sample, and every outbound item is delivered (the
// engine's delivered outcome and audit event). Nothing identifying: sample ids are lab codes.
//
// With --key-file (a security.key_file) the store seals what was received, as the engine does with
// encryption at rest: each HL7/ASTM message's bytes with its row, each export's file under
// <dir>/bodies (a CSV of the batch's rows).
//
// --config FILE reads data.dir, store.url and store.password_file as labgated does; with a
// store.url the year goes into that PostgreSQL database (the progress file stays in data.dir).
//
// Seeded and reproducible: the schedule (which instrument sends what, when) and every message are
// functions of the seed and the message's index. Messages are committed with deduplication on
// (connector, sender, control id, content digest), so --resume simply starts again from the last
// recorded watermark (<dir>/gen_year.progress): a message committed before the interruption is
// recognised as a resend and not stored twice.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/export_gen.h"
#include "engine/security/keyring.h"
#include "engine/store/audit.h"
#include "engine/store/store.h"

namespace {

using labgate::benchgen::Rng;

constexpr int kLcmsInstruments = 15;
constexpr int kHl7Instruments = 20;
constexpr int kAstmInstruments = 15;
constexpr int kInstruments = kLcmsInstruments + kHl7Instruments + kAstmInstruments;
static_assert(kInstruments == 50, "the issue's lab has 50 instruments");
constexpr double kHeldShare = 0.05;

struct Options {
  std::string dataDir;
  std::string storeUrl;      // store.url: PostgreSQL (the lead's back end); empty: SQLite
  std::string passwordFile;  // store.password_file
  int64_t results = 10'000'000;
  int days = 365;
  uint64_t seed = 17;
  std::string start = "2026-01-01";
  int writers = 4;
  double lcmsShare = 0.5;
  int batchSamples = 96;
  int analytes = 10;
  bool resume = false;
  bool quiet = false;
  std::string keyFile;  // encryption at rest: the received bytes are stored sealed
};

/// One message of the schedule: which instrument sends it, and when.
struct Slot {
  uint32_t second = 0;  // since the start's midnight, UTC
  uint16_t instrument = 0;
  bool batch = false;
};

enum class Kind { kLcms, kHl7, kAstm };

Kind kindOf(int instrument) {
  if (instrument < kLcmsInstruments) return Kind::kLcms;
  if (instrument < kLcmsInstruments + kHl7Instruments) return Kind::kHl7;
  return Kind::kAstm;
}

std::string fmt(const char* format, auto... args) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, format, args...);
  return std::string(buf, n > 0 ? std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1) : 0);
}

std::string instrumentName(int i) {
  switch (kindOf(i)) {
    case Kind::kLcms:
      return fmt("lcms-%02d", i + 1);
    case Kind::kHl7:
      return fmt("chem-%02d", i - kLcmsInstruments + 1);
    case Kind::kAstm:
      return fmt("heme-%02d", i - kLcmsInstruments - kHl7Instruments + 1);
  }
  return "unknown";
}

std::string exportFormat(int i) {
  static const char* const kFormats[] = {"masshunter", "sciex", "targetlynx-xml"};
  return kFormats[i % 3];
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civilFromDays(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0));
}

/// ISO-8601 UTC with milliseconds of `startDay` + `seconds` + `millis`.
std::string isoAt(int64_t startDay, int64_t seconds, int millis) {
  int y = 0;
  unsigned m = 0, d = 0;
  civilFromDays(startDay + seconds / 86400, y, m, d);
  const int64_t s = seconds % 86400;
  return fmt("%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d, static_cast<int>(s / 3600),
             static_cast<int>(s / 60 % 60), static_cast<int>(s % 60), millis);
}

/// HL7-style YYYYMMDDHHMMSS, as instruments send measured times.
std::string hl7At(int64_t startDay, int64_t seconds) {
  int y = 0;
  unsigned m = 0, d = 0;
  civilFromDays(startDay + seconds / 86400, y, m, d);
  const int64_t s = seconds % 86400;
  return fmt("%04d%02u%02u%02d%02d%02d", y, m, d, static_cast<int>(s / 3600),
             static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
}

std::vector<Slot> schedule(const Options& o) {
  Rng rng(o.seed);
  const double perDay = static_cast<double>(o.results) / o.days;
  const double batchResults = static_cast<double>(o.batchSamples) * o.analytes;
  const double batchesPerDay = perDay * o.lcmsShare / batchResults;
  const double messagesPerDay = perDay * (1.0 - o.lcmsShare) / 10.0;  // 4..16 results, mean 10
  std::vector<Slot> out;
  double batchDebt = 0, messageDebt = 0;
  int lcmsNext = 0;
  for (int day = 0; day < o.days; ++day) {
    const size_t first = out.size();
    for (batchDebt += batchesPerDay; batchDebt >= 1.0; batchDebt -= 1.0) {
      out.push_back({static_cast<uint32_t>(day * 86400 + rng.below(86400)),
                     static_cast<uint16_t>(lcmsNext++ % kLcmsInstruments), true});
    }
    for (messageDebt += messagesPerDay; messageDebt >= 1.0; messageDebt -= 1.0) {
      // Daytime-heavy: two thirds between 07:00 and 19:00.
      int second = rng.below(3) < 2 ? 7 * 3600 + rng.below(12 * 3600) : rng.below(86400);
      out.push_back(
          {static_cast<uint32_t>(day * 86400 + second),
           static_cast<uint16_t>(kLcmsInstruments + rng.below(kHl7Instruments + kAstmInstruments)),
           false});
    }
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                     [](const Slot& a, const Slot& b) { return a.second < b.second; });
  }
  return out;
}

struct Analyte {
  std::string code, lisCode, name, units, range;
  double mean, sd;
  int decimals;
};

const std::vector<Analyte>& chemistry() {
  static const std::vector<Analyte> kAnalytes = {
      {"GLU", "2345-7", "Glucose", "mg/dL", "70-99", 95, 18, 0},
      {"NA", "2951-2", "Sodium", "mmol/L", "136-145", 140, 3, 0},
      {"K", "2823-3", "Potassium", "mmol/L", "3.5-5.1", 4.2, 0.4, 1},
      {"CL", "2075-0", "Chloride", "mmol/L", "98-107", 102, 3, 0},
      {"CREA", "2160-0", "Creatinine", "mg/dL", "0.7-1.3", 0.95, 0.2, 2},
      {"BUN", "3094-0", "Urea nitrogen", "mg/dL", "7-20", 14, 4, 0},
      {"ALT", "1742-6", "ALT", "U/L", "7-56", 28, 10, 0},
      {"AST", "1920-8", "AST", "U/L", "10-40", 24, 8, 0},
      {"ALP", "6768-6", "Alkaline phosphatase", "U/L", "44-147", 80, 20, 0},
      {"TBIL", "1975-2", "Bilirubin total", "mg/dL", "0.1-1.2", 0.6, 0.2, 1},
      {"CA", "17861-6", "Calcium", "mg/dL", "8.6-10.3", 9.4, 0.4, 1},
      {"ALB", "1751-7", "Albumin", "g/dL", "3.4-5.4", 4.3, 0.4, 1},
      {"TP", "2885-2", "Protein total", "g/dL", "6.0-8.3", 7.1, 0.5, 1},
      {"CHOL", "2093-3", "Cholesterol", "mg/dL", "125-200", 180, 30, 0},
      {"TRIG", "2571-8", "Triglyceride", "mg/dL", "0-150", 120, 45, 0},
      {"WBC", "6690-2", "Leukocytes", "10*3/uL", "4.5-11.0", 7.2, 1.8, 1},
  };
  return kAnalytes;
}

const std::vector<Analyte>& drugs() {
  static const std::vector<Analyte> kAnalytes = {
      {"TAC", "11253-2", "Tacrolimus", "ng/mL", "5-20", 8, 3, 1},
      {"CSA", "3520-4", "Cyclosporine", "ng/mL", "100-400", 180, 60, 0},
      {"SIR", "29247-4", "Sirolimus", "ng/mL", "4-12", 7, 2, 1},
      {"EVE", "50544-8", "Everolimus", "ng/mL", "3-8", 5, 1.5, 1},
      {"MPA", "23905-5", "Mycophenolic acid", "ug/mL", "1-3.5", 2.2, 0.8, 2},
      {"VITD2", "1647-7", "25-OH vitamin D2", "ng/mL", "0-100", 6, 3, 1},
      {"VITD3", "1648-5", "25-OH vitamin D3", "ng/mL", "30-100", 28, 9, 1},
      {"TESTO", "2986-8", "Testosterone", "ng/dL", "264-916", 420, 150, 0},
      {"CORT", "2143-6", "Cortisol", "ug/dL", "6-23", 12, 4, 1},
      {"METH", "3773-9", "Methotrexate", "umol/L", "0-0.1", 0.05, 0.03, 3},
      {"CAF", "3422-3", "Caffeine", "ug/mL", "5-20", 9, 3, 1},
      {"VOR", "47405-6", "Voriconazole", "ug/mL", "1-5.5", 2.5, 1, 2},
  };
  return kAnalytes;
}

const char* const kHoldRules[] = {"result.delta_check", "result.critical_value", "peak.ion_ratio",
                                  "peak.retention_time", "result.above_range"};

labgate::Finding heldFinding(Rng& rng, double value, const Analyte& a) {
  labgate::Finding f;
  f.ruleId = kHoldRules[rng.below(5)];
  f.severity = labgate::Severity::kWarning;
  f.subject = "result";
  f.message = "held for review by the rule " + f.ruleId;
  f.measured = fmt("%.*f", a.decimals, value);
  f.limit = a.range;
  f.action = labgate::DispositionKind::kHold;
  return f;
}

std::string valueText(double v, int decimals) { return fmt("%.*f", decimals, v); }

/// The HL7 ORU^R01 the LIS receives for one sample's released results (what a destination
/// renders: MSH, OBR with the lab's sample id, OBX per result).
std::string oruPayload(const std::string& controlId, const std::string& at,
                       const labgate::Sample& s, const std::vector<bool>& released) {
  std::string out = "MSH|^~\\&|LABGATE|LAB|LIS|LAB|" + at + "||ORU^R01|" + controlId +
                    "|P|2.5.1\rOBR|1||" + s.sampleId + "|PANEL^Results\r";
  int n = 0;
  for (size_t i = 0; i < s.results.size(); ++i) {
    if (!released[i] || s.results[i].internalStandard) continue;
    const labgate::Result& r = s.results[i];
    out += "OBX|" + std::to_string(++n) + "|NM|" + r.lisCode + "^" + r.lisName + "||" + r.value +
           "|" + r.units + "|" + r.referenceRange + "|" + r.flags + "|||F|||" + r.measuredAt + "\r";
  }
  return out;
}

/// ASTM E1394 records of one sample as an analyser sends them (before framing).
std::string astmRecords(const std::string& at, const labgate::Sample& s) {
  std::string out = "H|\\^&|||ANALYZER^1.0|||||||P|LIS2-A2|" + at + "\rP|1\rO|1|" + s.sampleId +
                    "||^^^PANEL|R||||||N||||||||||||||F\r";
  int n = 0;
  for (const labgate::Result& r : s.results) {
    out += "R|" + std::to_string(++n) + "|^^^" + r.instrumentCode + "|" + r.value + "|" + r.units +
           "|" + r.referenceRange + "|" + r.flags + "||F||||" + r.measuredAt + "\r";
  }
  return out + "L|1|N\r";
}

/// The export file of a batch, one CSV row per result (what the watched folder received, kept
/// sealed under <data.dir>/bodies with encryption at rest).
std::string exportFile(const labgate::InboundCommit& c) {
  std::string out = "Sample,Type,Position,Data File,Compound,Area,IS Area,RT,Calc. Conc.\n";
  for (const labgate::Sample& s : c.message.samples) {
    for (const labgate::Result& r : s.results) {
      const labgate::Peak& p = *r.peak;
      out += s.sampleId + "," + labgate::toString(s.kind) + "," + s.position + "," + s.dataFile +
             "," + r.instrumentCode + "," + fmt("%.0f", p.area.value_or(0)) + "," +
             fmt("%.0f", p.internalStandardArea.value_or(0)) + "," +
             fmt("%.3f", p.retentionTime.value_or(0)) + "," + r.value + "\n";
    }
  }
  return out;
}

class Generator {
 public:
  Generator(Options o, std::shared_ptr<labgate::Store> store, std::vector<Slot> slots)
      : o_(std::move(o)), store_(std::move(store)), slots_(std::move(slots)) {
    int y = 0;
    unsigned m = 0, d = 0;
    if (std::sscanf(o_.start.c_str(), "%d-%u-%u", &y, &m, &d) != 3) {
      throw std::runtime_error("--start must be YYYY-MM-DD");
    }
    startDay_ = daysFromCivil(y, m, d);
  }

  /// The commit of slot `index` (a pure function of the seed and the index).
  labgate::InboundCommit build(size_t index) const {
    const Slot& slot = slots_[index];
    Rng rng(o_.seed * 0x100000001B3ULL + index * 0x9E3779B97F4A7C15ULL + 1);
    labgate::InboundCommit c;
    c.instrument = instrumentName(slot.instrument);
    c.receivedAt = isoAt(startDay_, slot.second, rng.below(1000));
    c.deduplicate = true;
    c.message.controlId = fmt("G%zu", index);
    c.message.sender = c.instrument;
    c.message.sentAt = hl7At(startDay_, slot.second);
    if (slot.batch) {
      buildBatch(c, slot, rng, index);
    } else {
      buildSingle(c, slot, rng, index);
    }
    c.contentSha256 = labgate::sha256Hex(c.message.controlId + c.instrument + c.receivedAt);
    return c;
  }

  size_t size() const { return slots_.size(); }

 private:
  void buildSingle(labgate::InboundCommit& c, const Slot& slot, Rng& rng, size_t index) const {
    const bool hl7 = kindOf(slot.instrument) == Kind::kHl7;
    c.connector = hl7 ? "hl7in" : "astmin";
    c.format = hl7 ? "hl7" : "astm";
    c.peer = fmt("10.20.%d.%d:%d", slot.instrument / 10, 10 + slot.instrument % 10,
                 40000 + rng.below(20000));
    c.message.version = hl7 ? "2.5.1" : "LIS2-A2";
    c.message.processingId = "P";
    labgate::Sample s;
    s.sampleId = fmt("%c%02u%07zu", hl7 ? 'C' : 'H', slot.instrument % 100, index);
    s.position = fmt("R%d-%d", 1 + rng.below(40), 1 + rng.below(10));
    s.acquiredAt = hl7At(startDay_, slot.second > 300 ? slot.second - 300 : 0);
    const auto& panel = chemistry();
    const int count = 4 + rng.below(13);
    const int offset = rng.below(static_cast<int>(panel.size()));
    std::vector<bool> released;
    for (int i = 0; i < count; ++i) {
      const Analyte& a = panel[static_cast<size_t>(offset + i) % panel.size()];
      labgate::Result r;
      const double v = std::max(0.0, a.mean + a.sd * (rng.uniform(-2.2, 2.2)));
      r.instrumentCode = a.code;
      r.lisCode = a.lisCode;
      r.lisName = a.name;
      r.value = valueText(v, a.decimals);
      r.numeric = std::stod(r.value);
      r.units = a.units;
      r.referenceRange = a.range;
      r.flags = std::abs(v - a.mean) > 1.9 * a.sd ? (v > a.mean ? "H" : "L") : "N";
      r.status = "F";
      r.measuredAt = c.message.sentAt;
      r.location = fmt("R-%d", i + 1);
      r.decimals = a.decimals;
      labgate::Disposition d;
      if (rng.uniform(0, 1) < kHeldShare) {
        d.kind = labgate::DispositionKind::kHold;
        d.findings.push_back(heldFinding(rng, v, a));
        r.findings = d.findings;
      }
      released.push_back(d.kind == labgate::DispositionKind::kRelease);
      s.results.push_back(std::move(r));
      c.dispositions.push_back(std::move(d));
    }
    if (std::find(released.begin(), released.end(), true) != released.end()) {
      c.outbound.push_back({"lis", "L" + c.message.controlId,
                            oruPayload("L" + c.message.controlId, c.message.sentAt, s, released)});
    }
    if (!o_.keyFile.empty()) {
      // What the analyser sent (as the engine keeps it sealed): its own ORU or ASTM records.
      c.rawBody = hl7 ? oruPayload(c.message.controlId, c.message.sentAt, s,
                                   std::vector<bool>(s.results.size(), true))
                      : astmRecords(c.message.sentAt, s);
    }
    c.message.samples.push_back(std::move(s));
  }

  void buildBatch(labgate::InboundCommit& c, const Slot& slot, Rng& rng, size_t index) const {
    c.connector = "exports";
    c.format = exportFormat(slot.instrument);
    c.peer = "folder";
    c.sourceName = fmt("batch-%s-%zu.csv", c.instrument.c_str(), index);
    c.dedupeSender = "file";
    c.message.listedInRunOrder = c.format != "targetlynx-xml";
    c.message.rulesVersion = "lab-rules-2026.1";
    const auto& panel = drugs();
    const int analytes = std::min<int>(o_.analytes, static_cast<int>(panel.size()));
    const int samples = std::max(16, o_.batchSamples - 4 + rng.below(9));
    for (int a = 0; a < analytes; ++a) {
      c.message.curves.push_back({panel[static_cast<size_t>(a)].code, "Linear", "1/x", "Exclude"});
    }
    int qcSeq = 0;
    for (int n = 0; n < samples; ++n) {
      labgate::Sample s;
      s.injection = n + 1;
      s.position = fmt("P%d-%c%d", 1 + n / 96, 'A' + (n % 96) / 12, 1 + n % 12);
      s.dataFile = fmt("%s-%04d.d", c.instrument.c_str(), n + 1);
      s.acquiredAt =
          hl7At(startDay_, slot.second > 86400 ? slot.second - 240 * (samples - n) : slot.second);
      s.location = fmt("line %d", n + 3);
      if (n == 0) {
        s.kind = labgate::SampleKind::kBlank;
        s.sampleId = "BLANK";
      } else if (n <= 8) {
        s.kind = labgate::SampleKind::kCalibrator;
        s.level = fmt("CAL%d", n);
        s.sampleId = s.level;
        s.nominalConcentration = 0.5 * (1 << (n - 1));
      } else if (n <= 14) {
        s.kind = labgate::SampleKind::kQc;
        s.level = n <= 10 ? "QCL" : n <= 12 ? "QCM" : "QCH";
        s.lot = "LOT2617";
        s.sampleId = s.level + fmt("-%d", n % 2 + 1);
      } else {
        s.kind = labgate::SampleKind::kUnknown;
        s.sampleId = fmt("M%02u%07zu%02d", slot.instrument % 100, index, n);
        s.dilution = 1.0;
      }
      std::vector<bool> released;
      for (int a = 0; a < analytes + 2; ++a) {
        const bool is = a >= analytes;
        const Analyte& an = panel[static_cast<size_t>(is ? a - analytes : a)];
        labgate::Result r;
        labgate::Peak p;
        const double rt = 1.2 + 0.35 * (is ? a - analytes : a);
        p.expectedRetentionTime = rt;
        p.retentionTime = rt + rng.uniform(-0.03, 0.03);
        p.area = rng.uniform(2e4, 9e5);
        p.height = *p.area / rng.uniform(8, 14);
        p.signalToNoise = rng.uniform(40, 900);
        p.width = rng.uniform(0.04, 0.09);
        p.asymmetry = rng.uniform(0.9, 1.4);
        p.integrationCode = rng.below(20) == 0 ? "MM" : "bb";
        p.manualIntegration = p.integrationCode == "MM";
        double v = std::max(0.0, an.mean + an.sd * rng.uniform(-2.0, 2.0));
        if (s.kind == labgate::SampleKind::kCalibrator) v = *s.nominalConcentration;
        if (s.kind == labgate::SampleKind::kBlank) v = 0;
        r.instrumentCode = is ? an.code + "-D3" : an.code;
        r.internalStandard = is;
        r.location = fmt("R-%d", static_cast<int>(c.dispositions.size()) + 1);
        r.status = "F";
        r.measuredAt = s.acquiredAt;
        r.units = an.units;
        if (!is) {
          p.internalStandard = panel[0].code + "-D3";
          p.internalStandardArea = rng.uniform(2e5, 6e5);
          p.internalStandardRt = 1.2;
          p.quantifierArea = p.area;
          p.qualifierArea = *p.area * rng.uniform(0.3, 0.4);
          p.ionRatio = *p.qualifierArea / *p.quantifierArea;
          p.calculatedConcentration = v;
          p.responseRatio = *p.area / *p.internalStandardArea;
          if (s.nominalConcentration) {
            p.expectedConcentration = s.nominalConcentration;
            p.accuracy = 100.0 * rng.uniform(0.92, 1.08);
          }
          r.lisCode = an.lisCode;
          r.lisName = an.name;
          r.value = valueText(v, an.decimals);
          r.numeric = std::stod(r.value);
          r.referenceRange = an.range;
          r.decimals = an.decimals;
        }
        r.peak = p;
        labgate::Disposition d;
        if (!is && rng.uniform(0, 1) < kHeldShare) {
          d.kind = labgate::DispositionKind::kHold;
          d.findings.push_back(heldFinding(rng, v, an));
          r.findings = d.findings;
        }
        if (!is && s.kind == labgate::SampleKind::kQc) {
          labgate::QcValue q;
          q.analyte = an.code;
          q.level = s.level;
          q.lot = s.lot;
          q.sampleId = s.sampleId;
          q.seq = ++qcSeq;
          q.value = v;
          q.targetMean = an.mean;
          q.targetSd = an.sd;
          c.message.qcValues.push_back(q);
        }
        released.push_back(!is && s.kind == labgate::SampleKind::kUnknown &&
                           d.kind == labgate::DispositionKind::kRelease);
        s.results.push_back(std::move(r));
        c.dispositions.push_back(std::move(d));
      }
      if (s.kind == labgate::SampleKind::kUnknown &&
          std::find(released.begin(), released.end(), true) != released.end()) {
        const std::string control = fmt("L%zu-%d", index, n);
        c.outbound.push_back({"lis", control, oruPayload(control, c.message.sentAt, s, released)});
      }
      c.message.samples.push_back(std::move(s));
    }
    for (int a = 0; a < analytes; ++a) {
      const std::string& code = panel[static_cast<size_t>(a)].code;
      c.message.metrics.push_back({code, "cal_slope", rng.uniform(0.9, 1.1)});
      c.message.metrics.push_back({code, "cal_is_area_median", rng.uniform(2e5, 6e5)});
      c.message.metrics.push_back({code, "cal_rt_mean", 1.2 + 0.35 * a});
    }
    if (rng.below(10) == 0) {
      labgate::Finding f;
      f.ruleId = "qc.westgard_1_3s";
      f.subject = "analyte";
      f.message = "a QC value is more than 3 SD from its target";
      f.measured = "3.2";
      f.limit = "3";
      c.message.batchFindings.push_back({panel[0].code, f});
    }
  }

  Options o_;
  std::shared_ptr<labgate::Store> store_;
  std::vector<Slot> slots_;
  int64_t startDay_ = 0;
};

int64_t countResults(const labgate::InboundCommit& c) {
  int64_t n = 0;
  for (const auto& s : c.message.samples)
    for (const auto& r : s.results) n += r.internalStandard ? 0 : 1;
  return n;
}

/// data.dir, store.url and store.password_file of a labgated configuration file.
void readConfig(const std::string& config, Options& o) {
  std::ifstream in(config);
  if (!in) throw std::runtime_error("cannot read " + config);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      const size_t b = s.find_first_not_of(" \t");
      const size_t e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    if (key == "data.dir") o.dataDir = value;
    if (key == "store.url") o.storeUrl = value;
    if (key == "store.password_file") o.passwordFile = value;
  }
  if (o.dataDir.empty()) throw std::runtime_error(config + " has no data.dir");
}

void usage() {
  std::cerr << "usage: gen_year (--data-dir DIR | --config FILE) [--results N] [--days D] "
               "[--seed S] [--start YYYY-MM-DD] [--writers W] [--lcms-share F] "
               "[--batch-samples B] [--analytes A] [--key-file KEY] [--store-url URL "
               "--password-file FILE] [--resume] [--quiet]\n";
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--data-dir") {
      o.dataDir = value();
    } else if (a == "--config") {
      readConfig(value(), o);
    } else if (a == "--store-url") {
      o.storeUrl = value();
    } else if (a == "--password-file") {
      o.passwordFile = value();
    } else if (a == "--results") {
      o.results = std::stoll(value());
    } else if (a == "--days") {
      o.days = std::stoi(value());
    } else if (a == "--seed") {
      o.seed = std::stoull(value());
    } else if (a == "--start") {
      o.start = value();
    } else if (a == "--writers") {
      o.writers = std::max(1, std::stoi(value()));
    } else if (a == "--lcms-share") {
      o.lcmsShare = std::clamp(std::stod(value()), 0.0, 1.0);
    } else if (a == "--batch-samples") {
      o.batchSamples = std::max(16, std::stoi(value()));
    } else if (a == "--analytes") {
      o.analytes = std::clamp(std::stoi(value()), 1, 12);
    } else if (a == "--resume") {
      o.resume = true;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--key-file") {
      o.keyFile = value();
    } else {
      throw std::runtime_error("unknown argument " + a);
    }
  }
  if (o.dataDir.empty()) throw std::runtime_error("--data-dir or --config is required");
  if (o.days < 1 || o.results < 1) throw std::runtime_error("--days and --results must be > 0");
  return o;
}

std::string paramsLine(const Options& o) {
  return fmt("seed=%llu results=%lld days=%d start=%s lcms=%.3f batch=%d analytes=%d",
             static_cast<unsigned long long>(o.seed), static_cast<long long>(o.results), o.days,
             o.start.c_str(), o.lcmsShare, o.batchSamples, o.analytes);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "gen_year: " << e.what() << "\n";
    usage();
    return 2;
  }
  const std::string progressPath = o.dataDir + "/gen_year.progress";
  size_t first = 0;
  if (o.resume) {
    std::ifstream in(progressPath);
    std::string params;
    if (in && std::getline(in, params) && in >> first) {
      if (params != paramsLine(o)) {
        std::cerr << "gen_year: " << progressPath << " was written for other parameters:\n  "
                  << params << "\n";
        return 2;
      }
    }
  }
  std::shared_ptr<labgate::security::Keyring> keyring;
  if (!o.keyFile.empty()) {
    auto ring = labgate::security::openKeyring(o.keyFile, "", o.dataDir);
    if (!ring.isOk()) {
      std::cerr << "gen_year: " << ring.status().toString() << "\n";
      return 2;
    }
    keyring = ring.value();
  }
  auto opened =
      labgate::Store::open(labgate::StoreLocation{o.dataDir, o.storeUrl, o.passwordFile}, keyring);
  if (!opened.isOk()) {
    std::cerr << "gen_year: " << opened.status().toString() << "\n";
    return 1;
  }
  std::shared_ptr<labgate::Store> store = opened.value();
  const auto t0 = std::chrono::steady_clock::now();
  Generator gen(o, store, schedule(o));
  const size_t total = gen.size();
  std::cout << "gen_year: " << paramsLine(o) << ": " << total << " messages into "
            << store->displayLocation()
            << (first ? fmt(", resuming at message %zu", first) : std::string()) << std::endl;

  std::atomic<size_t> next{first};
  std::atomic<int64_t> results{0}, messages{0}, duplicates{0}, delivered{0};
  std::atomic<bool> failed{false}, producing{true};
  std::mutex doneMutex;
  std::vector<char> done(total, 0);
  size_t watermark = first;
  auto saveProgress = [&] {
    std::ofstream out(progressPath + ".tmp", std::ios::trunc);
    out << paramsLine(o) << "\n" << watermark << "\n";
    out.close();
    std::rename((progressPath + ".tmp").c_str(), progressPath.c_str());
  };

  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(o.writers));
  for (int w = 0; w < o.writers; ++w) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < total && !failed; i = next++) {
        labgate::InboundCommit c = gen.build(i);
        if (keyring && c.connector == "exports") {
          std::istringstream file(exportFile(c));
          auto sealed = store->sealBodyFile(c.orgId, file);
          if (!sealed.isOk()) {
            std::cerr << "gen_year: " << sealed.status().toString() << "\n";
            failed = true;
            return;
          }
          c.bodyFile = sealed.value();
        }
        auto receipt = store->commitInbound(c);
        if (!receipt.isOk()) {
          std::cerr << "gen_year: message " << i << ": " << receipt.status().toString() << "\n";
          failed = true;
          return;
        }
        if (receipt.value().duplicate) {
          ++duplicates;
        } else {
          results += countResults(c);
          ++messages;
        }
        std::lock_guard<std::mutex> lock(doneMutex);
        done[i] = 1;
        while (watermark < total && done[watermark]) ++watermark;
      }
    });
  }
  // The deliveries: what the delivery worker does after the LIS's ACKs (claim in queue order,
  // record the outcomes with their audit events in one transaction).
  std::thread deliverer([&] {
    while (!failed) {
      const bool last = !producing;
      auto items = store->claimQueued("lis", 500, {});
      if (items.empty()) {
        if (last) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      std::vector<labgate::OutboundOutcome> outcomes;
      for (auto& item : items) {
        labgate::OutboundOutcome out;
        out.item = std::move(item);
        out.ackCode = "AA";
        outcomes.push_back(std::move(out));
      }
      labgate::Status s = store->recordOutcomes(outcomes);
      if (!s.isOk()) {
        std::cerr << "gen_year: delivery: " << s.toString() << "\n";
        failed = true;
        return;
      }
      delivered += static_cast<int64_t>(outcomes.size());
    }
  });

  auto lastReport = std::chrono::steady_clock::now();
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    size_t mark = 0;
    {
      std::lock_guard<std::mutex> lock(doneMutex);
      mark = watermark;
    }
    const bool finished = mark >= total || failed;
    const auto now = std::chrono::steady_clock::now();
    if (finished || now - lastReport >= std::chrono::seconds(10)) {
      {
        std::lock_guard<std::mutex> lock(doneMutex);
        saveProgress();
      }
      lastReport = now;
      const double secs = std::chrono::duration<double>(now - t0).count();
      const double rate = static_cast<double>(results.load()) / std::max(secs, 1e-3);
      const double left =
          static_cast<double>(total - mark) / std::max<double>(1, mark - first) * secs;
      if (!o.quiet || finished) {
        std::cout << fmt("%6.0f s  messages %zu/%zu  results %lld (%.0f/s)  delivered %lld  "
                         "eta %.0f s",
                         secs, mark, total, static_cast<long long>(results.load()), rate,
                         static_cast<long long>(delivered.load()), finished ? 0.0 : left)
                  << std::endl;
      }
    }
    if (finished) break;
  }
  for (auto& t : workers) t.join();
  producing = false;
  deliverer.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt("gen_year: %lld messages (%lld resends skipped), %lld results, %lld outbound "
                   "items delivered in %.1f s (%.0f results/s)",
                   static_cast<long long>(messages.load()),
                   static_cast<long long>(duplicates.load()),
                   static_cast<long long>(results.load()), static_cast<long long>(delivered.load()),
                   secs, static_cast<double>(results.load()) / std::max(secs, 1e-3))
            << std::endl;
  return failed ? 1 : 0;
}
