// Synthetic LC-MS/MS batch exports for export_parse_bench: deterministic (seeded), realistic in
// shape and value ranges, and free of anything the PHI gate would flag (sample names are batch
// codes, dates are acquisition times without a birth or admission cue).
//
//   MassHunterWide  Agilent MassHunter Quant CSV, wide form: row 1 the groups ("Sample", then
//                   "<compound> Results" over each compound's columns, the rest of a group left
//                   empty), row 2 the column names, then one row per injection.
//   SciexTsv        SCIEX MultiQuant TSV: one row per (sample, component).
//   TargetLynxXml   Waters TargetLynx QUANDATASET XML: SAMPLE / COMPOUND / PEAK / ISPEAK.
//
// Each generator gives a header, rows (one injection each; what a "row" is differs per format, see
// rowsPerInjection) and a footer, so a file of any size can be built in memory or streamed to disk.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace labgate::benchgen {

/// splitmix64: small, fast and the same on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
  }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t state_;
};

namespace detail {

inline void appendNumber(std::string& out, double value, int decimals) {
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  if (n > 0) out.append(buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : 0);
}

inline void appendInt(std::string& out, long long value) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%lld", value);
  if (n > 0) out.append(buf, static_cast<size_t>(n));
}

inline void appendPadded(std::string& out, int value, int width) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%0*d", width, value);
  if (n > 0) out.append(buf, static_cast<size_t>(n));
}

}  // namespace detail

/// A panel analyte: name, retention time, and whether it is an internal standard.
struct Analyte {
  std::string name;
  double rt = 0;
  bool internalStandard = false;
};

/// `count` analytes of a drugs-of-abuse style panel; every fifth is a deuterated internal standard
/// of the one before it.
inline std::vector<Analyte> panel(int count) {
  static const char* const kNames[] = {
      "Morphine",      "Codeine",         "Oxycodone",   "Hydrocodone",     "Oxymorphone",
      "Hydromorphone", "Fentanyl",        "Norfentanyl", "Buprenorphine",   "Methadone",
      "EDDP",          "Tramadol",        "Amphetamine", "Methamphetamine", "MDMA",
      "MDA",           "Benzoylecgonine", "Cocaine",     "Alprazolam",      "Clonazepam"};
  const int kCount = static_cast<int>(sizeof kNames / sizeof kNames[0]);
  std::vector<Analyte> out;
  for (int i = 0; static_cast<int>(out.size()) < count; ++i) {
    std::string name = kNames[i % kCount];
    if (i >= kCount) {
      name += ' ';
      name += std::to_string(i / kCount + 1);
    }
    double rt = 0.8 + 0.21 * static_cast<double>(out.size());
    out.push_back({name, rt, false});
    if (static_cast<int>(out.size()) % 5 == 4 && static_cast<int>(out.size()) < count) {
      out.push_back({name + "-D3 (ISTD)", rt - 0.01, true});
    }
  }
  return out;
}

/// What kind of injection row `index` is in a typical batch: blank, 8 calibrators, 3 QCs, then
/// patient samples with a QC every 20.
struct Injection {
  enum Kind { kBlank, kCalibrator, kQc, kSample } kind = kSample;
  int level = 0;  // calibrator 1..8, QC 1..3
};

inline Injection injection(int index) {
  if (index == 0) return {Injection::kBlank, 0};
  if (index <= 8) return {Injection::kCalibrator, index};
  if (index <= 11 || index % 20 == 0) return {Injection::kQc, index % 3 + 1};
  return {Injection::kSample, 0};
}

inline double nominal(const Injection& inj) {
  static const double kCal[] = {0, 1, 2, 5, 10, 25, 50, 100, 250};
  static const double kQc[] = {0, 3, 40, 200};
  if (inj.kind == Injection::kCalibrator) return kCal[inj.level];
  if (inj.kind == Injection::kQc) return kQc[inj.level];
  return 0;
}

/// Agilent MassHunter Quant wide-form CSV.
class MassHunterWide {
 public:
  MassHunterWide(int compounds, uint64_t seed) : analytes_(panel(compounds)), rng_(seed) {}

  static constexpr int rowsPerInjection() { return 1; }
  size_t resultsPerInjection() const { return analytes_.size(); }

  std::string header() const {
    std::string row1 = "Sample,,,,";
    std::string row2 = "Name,Data File,Type,Level,Acq. Date-Time";
    for (const Analyte& a : analytes_) {
      row1 += "," + a.name + " Results,,,,,,,";
      row2 += ",RT,Area,Height,Calc. Conc.,Final Conc.,Accuracy,S/N,MI";
    }
    return row1 + "\r\n" + row2 + "\r\n";
  }

  void appendInjection(std::string& out, int index) {
    using namespace detail;
    Injection inj = injection(index);
    static const char* const kType[] = {"Blank", "Cal", "QC", "Sample"};
    std::string name;
    switch (inj.kind) {
      case Injection::kBlank:
        name = "BLK-01";
        break;
      case Injection::kCalibrator:
        name = "CAL-0" + std::to_string(inj.level);
        break;
      case Injection::kQc:
        name = "QC-L" + std::to_string(inj.level);
        break;
      case Injection::kSample:
        name = "B2611-";
        appendPadded(name, index, 6);
        break;
    }
    out += name;
    out += ",D:\\MassHunter\\Data\\B2611\\";
    appendPadded(out, index, 4);
    out += "-" + name + ".d,";
    out += kType[inj.kind];
    out += ',';
    if (inj.kind == Injection::kCalibrator || inj.kind == Injection::kQc) appendInt(out, inj.level);
    // 11/24/2026 7:02 PM onwards, one injection every 6 minutes.
    int minutes = 19 * 60 + 2 + 6 * index;
    int day = 24 + minutes / (24 * 60);
    minutes %= 24 * 60;
    int hour = minutes / 60;
    out += ",11/";
    appendInt(out, day > 30 ? day - 30 : day);
    out += "/2026 ";
    appendInt(out, hour % 12 == 0 ? 12 : hour % 12);
    out += ':';
    appendPadded(out, minutes % 60, 2);
    out += hour < 12 ? " AM" : " PM";
    for (const Analyte& a : analytes_) {
      double conc = concentration(inj, a);
      out += ',';
      appendNumber(out, a.rt + rng_.uniform(-0.02, 0.02), 3);
      double area = a.internalStandard ? rng_.uniform(4e5, 6e5) : conc * rng_.uniform(9e3, 1.1e4);
      out += ',';
      appendInt(out, static_cast<long long>(area) + 5);
      out += ',';
      appendInt(out, static_cast<long long>(area * 0.18) + 1);
      out += ',';
      if (!a.internalStandard) appendNumber(out, conc, 4);
      out += ',';
      if (!a.internalStandard) appendNumber(out, conc, 4);
      out += ',';
      double expected = nominal(inj);
      if (!a.internalStandard && expected > 0) appendNumber(out, 100.0 * conc / expected, 1);
      out += ',';
      appendNumber(out, rng_.uniform(8, 900), 1);
      out += rng_.below(50) == 0 ? ",TRUE" : ",FALSE";
    }
    out += "\r\n";
  }

  std::string footer() const { return ""; }

 private:
  double concentration(const Injection& inj, const Analyte& a) {
    if (a.internalStandard) return 0;
    double expected = nominal(inj);
    if (expected > 0) return expected * rng_.uniform(0.9, 1.1);
    if (inj.kind == Injection::kBlank) return rng_.uniform(0, 0.05);
    return rng_.below(4) == 0 ? rng_.uniform(0.5, 400) : rng_.uniform(0, 0.2);
  }

  std::vector<Analyte> analytes_;
  Rng rng_;
};

/// SCIEX MultiQuant results table, tab-separated, one row per (sample, component).
class SciexTsv {
 public:
  SciexTsv(int components, uint64_t seed) : analytes_(panel(components)), rng_(seed) {}

  size_t rowsPerInjection() const { return analytes_.size(); }
  size_t resultsPerInjection() const { return analytes_.size(); }

  std::string header() const {
    return "Sample Name\tSample Type\tComponent Name\tActual Concentration\tCalculated "
           "Concentration\tArea\tIS Area\tRetention Time\tSignal / Noise\r\n";
  }

  void appendInjection(std::string& out, int index) {
    using namespace detail;
    Injection inj = injection(index);
    static const char* const kType[] = {"Blank", "Standard", "Quality Control", "Unknown"};
    std::string name;
    switch (inj.kind) {
      case Injection::kBlank:
        name = "Double Blank";
        break;
      case Injection::kCalibrator:
        name = "Std " + std::to_string(inj.level);
        break;
      case Injection::kQc:
        name = "QC " + std::to_string(inj.level);
        break;
      case Injection::kSample:
        name = "MQ";
        appendPadded(name, index, 7);
        break;
    }
    double expected = nominal(inj);
    double isArea = 0;
    for (const Analyte& a : analytes_) {
      out += name;
      out += '\t';
      out += kType[inj.kind];
      out += '\t';
      out += a.name;
      out += '\t';
      if (expected > 0 && !a.internalStandard) {
        appendNumber(out, expected, 2);
      } else {
        out += "N/A";
      }
      out += '\t';
      double conc = expected > 0 ? expected * rng_.uniform(0.9, 1.1) : rng_.uniform(0, 50);
      if (a.internalStandard) {
        out += "N/A";
      } else if (conc < 0.5) {
        out += "< 0";
      } else {
        appendNumber(out, conc, 4);
      }
      out += '\t';
      double area = a.internalStandard ? rng_.uniform(4e5, 6e5) : conc * rng_.uniform(9e3, 1.1e4);
      if (a.internalStandard) isArea = area;
      appendNumber(out, area, 0);
      out += '\t';
      if (isArea > 0) {
        appendNumber(out, isArea, 0);
      } else {
        out += "N/A";
      }
      out += '\t';
      appendNumber(out, a.rt + rng_.uniform(-0.02, 0.02), 2);
      out += '\t';
      appendNumber(out, rng_.uniform(8, 900), 1);
      out += "\r\n";
    }
  }

  std::string footer() const { return ""; }

 private:
  std::vector<Analyte> analytes_;
  Rng rng_;
};

/// Waters TargetLynx QUANDATASET XML.
class TargetLynxXml {
 public:
  TargetLynxXml(int compounds, uint64_t seed) : analytes_(panel(compounds)), rng_(seed) {}

  /// Elements (records) per injection: SAMPLE, then per compound COMPOUND + PEAK + ISPEAK.
  size_t rowsPerInjection() const { return 1 + 3 * analytes_.size(); }
  size_t resultsPerInjection() const { return analytes_.size(); }

  std::string header() const {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<QUANDATASET version=\"1\">\n"
           " <XMLFILE filename=\"C:\\MassLynx\\B2611.PRO\\Data\\B2611.xml\" "
           "modifieddate=\"25-Nov-26\" modifiedtime=\"07:40:12\">\n"
           "  <DATASET>\n"
           "   <GROUPDATA count=\"1\">\n"
           "    <GROUP id=\"1\" name=\"DOA_PANEL\">\n"
           "     <SAMPLELISTDATA>\n";
  }

  void appendInjection(std::string& out, int index) {
    using namespace detail;
    Injection inj = injection(index);
    static const char* const kType[] = {"Blank", "Standard", "QC", "Analyte"};
    out += "      <SAMPLE id=\"";
    appendInt(out, index + 1);
    out += "\" name=\"B2611_";
    appendPadded(out, index, 6);
    out += "\" type=\"";
    out += kType[inj.kind];
    out += "\" stdconc=\"";
    appendNumber(out, nominal(inj), 10);
    out += "\" vial=\"1:";
    appendInt(out, index % 96 + 1);
    out += "\" createdate=\"24-Nov-26\" createtime=\"19:";
    appendPadded(out, index % 60, 2);
    out += ":00\">\n";
    double isArea = rng_.uniform(4e5, 6e5);
    double isRt = 0;
    int id = 0;
    for (const Analyte& a : analytes_) {
      if (a.internalStandard) isRt = a.rt;
      double expected = nominal(inj);
      double conc = expected > 0 ? expected * rng_.uniform(0.9, 1.1) : rng_.uniform(0, 50);
      double area = a.internalStandard ? isArea : conc * rng_.uniform(9e3, 1.1e4);
      out += "       <COMPOUND id=\"";
      appendInt(out, ++id);
      out += "\" name=\"" + a.name + "\">\n        <PEAK foundrt=\"";
      appendNumber(out, a.rt + rng_.uniform(-0.02, 0.02), 10);
      out += "\" area=\"";
      appendNumber(out, area, 10);
      out += "\" height=\"";
      appendNumber(out, area * 0.18, 10);
      out += "\" analconc=\"";
      appendNumber(out, a.internalStandard ? 0 : conc, 10);
      out += "\" signoise=\"";
      appendNumber(out, rng_.uniform(8, 900), 10);
      out += "\">\n         <ISPEAK area=\"";
      appendNumber(out, isArea, 10);
      out += "\" foundrt=\"";
      appendNumber(out, isRt > 0 ? isRt : a.rt, 10);
      out += "\"/>\n        </PEAK>\n       </COMPOUND>\n";
    }
    out += "      </SAMPLE>\n";
  }

  std::string footer() const {
    return "     </SAMPLELISTDATA>\n    </GROUP>\n   </GROUPDATA>\n  </DATASET>\n"
           " </XMLFILE>\n</QUANDATASET>\n";
  }

 private:
  std::vector<Analyte> analytes_;
  Rng rng_;
};

/// A whole file of at least `bytes` (header + as many injections as it takes + footer).
template <class Generator>
std::string ofSize(Generator& gen, size_t bytes, int* injections = nullptr) {
  std::string out = gen.header();
  std::string footer = gen.footer();
  out.reserve(bytes + bytes / 16 + footer.size());
  int n = 0;
  while (out.size() + footer.size() < bytes) gen.appendInjection(out, n++);
  out += footer;
  if (injections) *injections = n;
  return out;
}

/// The same, streamed to `path` in ~1 MB pieces. Returns the bytes written (0 on failure).
template <class Generator>
size_t writeFile(Generator& gen, const std::string& path, size_t bytes, int* injections = nullptr) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) return 0;
  std::string chunk = gen.header();
  std::string footer = gen.footer();
  size_t written = 0;
  int n = 0;
  while (written + chunk.size() + footer.size() < bytes) {
    gen.appendInjection(chunk, n++);
    if (chunk.size() >= (1u << 20)) {
      file.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      written += chunk.size();
      chunk.clear();
    }
  }
  chunk += footer;
  file.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  written += chunk.size();
  if (injections) *injections = n;
  return file ? written : 0;
}

}  // namespace labgate::benchgen
