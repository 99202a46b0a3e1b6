// Tests for connectors/hl7/oru: segment order, field positions, escaping, value types (NM, SN, ST),
// decimal rounding, coding systems, and the absence of any patient segment.
#include "connectors/hl7/oru.h"

#include <gtest/gtest.h>

#include "connectors/hl7/escape.h"

namespace labgate::hl7 {
namespace {

std::vector<std::string> splitOn(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    size_t end = s.find(sep, begin);
    parts.push_back(s.substr(begin, end == std::string::npos ? end : end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

std::vector<std::string> segmentsOf(const std::string& message) {
  EXPECT_FALSE(message.empty());
  EXPECT_EQ(message.back(), '\r');
  EXPECT_EQ(message.find('\n'), std::string::npos);
  auto segs = splitOn(message.substr(0, message.size() - 1), '\r');
  return segs;
}

// Field n of a segment in HL7 numbering ("" when absent). For MSH, field 1 is the separator.
std::string field(const std::string& segment, size_t n) {
  auto f = splitOn(segment, '|');
  if (segment.rfind("MSH", 0) == 0) {
    if (n == 1) return "|";
    --n;
  }
  return n < f.size() ? f[n] : "";
}

OruHeader header() {
  OruHeader h;
  h.sendingFacility = "LAB1";
  h.receivingApplication = "LIS";
  h.receivingFacility = "HOSP";
  h.controlId = "LG000042";
  h.timestamp = "20250628173423+0200";
  h.instrumentId = "QTRAP6500-1";
  return h;
}

Result result(std::string code, std::string value) {
  Result r;
  r.instrumentCode = std::move(code);
  r.value = std::move(value);
  return r;
}

Sample sampleWith(std::string id, std::vector<Result> results) {
  Sample s;
  s.sampleId = std::move(id);
  s.acquiredAt = "20250628101500";
  s.results = std::move(results);
  return s;
}

TEST(BuildOruR01, WritesTheHeader) {
  auto segs = segmentsOf(buildOruR01(header(), {}));
  ASSERT_EQ(segs.size(), 1u);
  const std::string& msh = segs[0];
  EXPECT_EQ(msh.substr(0, 9), "MSH|^~\\&|");
  EXPECT_EQ(field(msh, 3), "LABGATE");
  EXPECT_EQ(field(msh, 4), "LAB1");
  EXPECT_EQ(field(msh, 5), "LIS");
  EXPECT_EQ(field(msh, 6), "HOSP");
  EXPECT_EQ(field(msh, 7), "20250628173423+0200");
  EXPECT_EQ(field(msh, 9), "ORU^R01^ORU_R01");
  EXPECT_EQ(field(msh, 10), "LG000042");
  EXPECT_EQ(field(msh, 11), "P");
  EXPECT_EQ(field(msh, 12), "2.5.1");
  EXPECT_EQ(field(msh, 15), "");
  EXPECT_EQ(field(msh, 16), "");
  EXPECT_EQ(field(msh, 18), "UNICODE UTF-8");
}

TEST(BuildOruR01, OrdersSegmentsPerSampleAndHasNoPatientSegments) {
  Result withComment = result("TAC", "5.2");
  withComment.comment = "first line\r\nsecond line";
  std::vector<Sample> samples = {
      sampleWith("S1", {result("25OHD3", "31.4"), withComment}),
      sampleWith("S2", {result("CORT", "12")}),
  };
  auto segs = segmentsOf(buildOruR01(header(), samples));
  std::vector<std::string> ids;
  ids.reserve(segs.size());
  for (const auto& s : segs) ids.push_back(s.substr(0, 3));
  EXPECT_EQ(ids, (std::vector<std::string>{"MSH", "ORC", "OBR", "OBX", "OBX", "NTE", "NTE", "ORC",
                                           "OBR", "OBX"}));
  for (const auto& s : segs) {
    EXPECT_NE(s.substr(0, 3), "PID");
    EXPECT_NE(s.substr(0, 3), "PV1");
  }
  EXPECT_EQ(field(segs[2], 1), "1");
  EXPECT_EQ(field(segs[8], 1), "2");
  EXPECT_EQ(field(segs[3], 1), "1");
  EXPECT_EQ(field(segs[4], 1), "2");
  EXPECT_EQ(field(segs[9], 1), "1");  // OBX set id restarts per OBR
  EXPECT_EQ(segs[5], "NTE|1|L|first line");
  EXPECT_EQ(segs[6], "NTE|2|L|second line");
}

TEST(BuildOruR01, FillsOrcAndObr) {
  Result r = result("TEST", "1");
  r.status = "P";
  auto segs = segmentsOf(buildOruR01(header(), {sampleWith("S-0001", {r})}));
  EXPECT_EQ(segs[1], "ORC|RE||S-0001");
  const std::string& obr = segs[2];
  EXPECT_EQ(field(obr, 1), "1");
  EXPECT_EQ(field(obr, 2), "");
  EXPECT_EQ(field(obr, 3), "S-0001");
  EXPECT_EQ(field(obr, 4), "LGRESULT^Instrument results^L");
  EXPECT_EQ(field(obr, 7), "20250628101500");
  EXPECT_EQ(field(obr, 25), "P");
  EXPECT_EQ(splitOn(obr, '|').size(), 26u);
}

TEST(BuildOruR01, DerivesTheOrderStatusFromItsResults) {
  auto obrStatus = [](std::vector<std::string> statuses) {
    std::vector<Result> results;
    for (auto& s : statuses) {
      Result r = result("X", "1");
      r.status = s;
      results.push_back(r);
    }
    return field(segmentsOf(buildOruR01(header(), {sampleWith("S", results)}))[2], 25);
  };
  EXPECT_EQ(obrStatus({"F", ""}), "F");
  EXPECT_EQ(obrStatus({"F", "P"}), "P");
  EXPECT_EQ(obrStatus({"P", "C"}), "C");
  EXPECT_EQ(obrStatus({"X", "F"}), "F");
}

TEST(BuildOruR01, FallsBackToTheFirstMeasuredTimeForObr7) {
  Sample s = sampleWith("S", {result("A", "1"), result("B", "2")});
  s.acquiredAt.clear();
  s.results[1].measuredAt = "20250628110000";
  EXPECT_EQ(field(segmentsOf(buildOruR01(header(), {s}))[2], 7), "20250628110000");
}

TEST(BuildOruR01, FillsEveryObxField) {
  Result r = result("25OHD3", "31.44");
  r.lisCode = "VD25D3";
  r.lisName = "25-OH Vitamin D3";
  r.units = "ng/mL";
  r.referenceRange = "30-100";
  r.flags = "N";
  r.status = "c";
  r.measuredAt = "20250628101733";
  r.decimals = 1;
  auto segs = segmentsOf(buildOruR01(header(), {sampleWith("S1", {r})}));
  const std::string& obx = segs[3];
  EXPECT_EQ(field(obx, 1), "1");
  EXPECT_EQ(field(obx, 2), "NM");
  EXPECT_EQ(field(obx, 3), "VD25D3^25-OH Vitamin D3^L^25OHD3^^99LG");
  EXPECT_EQ(field(obx, 4), "");
  EXPECT_EQ(field(obx, 5), "31.4");
  EXPECT_EQ(field(obx, 6), "ng/mL");
  EXPECT_EQ(field(obx, 7), "30-100");
  EXPECT_EQ(field(obx, 8), "N");
  EXPECT_EQ(field(obx, 11), "C");
  EXPECT_EQ(field(obx, 14), "20250628101733");
  EXPECT_EQ(field(obx, 18), "QTRAP6500-1");
  EXPECT_EQ(splitOn(obx, '|').size(), 19u);
}

TEST(BuildOruR01, UsesTheInstrumentCodeWhenThereIsNoLisCode) {
  auto segs = segmentsOf(buildOruR01(header(), {sampleWith("S1", {result("CsA", "120")})}));
  EXPECT_EQ(field(segs[3], 3), "CsA^^99LG");
}

TEST(BuildOruR01, StatusDefaultsToFinal) {
  Result unknown = result("A", "1");
  unknown.status = "?";
  auto segs = segmentsOf(buildOruR01(header(), {sampleWith("S1", {result("A", "1"), unknown})}));
  EXPECT_EQ(field(segs[3], 11), "F");
  EXPECT_EQ(field(segs[4], 11), "F");
}

TEST(BuildOruR01, EscapesEveryTextValue) {
  const std::string nasty = "a|b^c~d\\e&f";
  OruHeader h = header();
  h.instrumentId = nasty;
  h.sendingFacility = nasty;
  Result r = result(nasty, nasty);
  r.lisCode = nasty;
  r.lisName = nasty;
  r.units = nasty;
  r.referenceRange = nasty;
  r.flags = nasty;
  r.comment = nasty;
  auto segs = segmentsOf(buildOruR01(h, {sampleWith(nasty, {r})}));
  ASSERT_EQ(segs.size(), 5u);
  const std::string e = escapeText(nasty);
  EXPECT_EQ(e, "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f");
  EXPECT_EQ(field(segs[0], 4), e);
  EXPECT_EQ(field(segs[1], 3), e);
  EXPECT_EQ(field(segs[2], 3), e);
  const std::string& obx = segs[3];
  EXPECT_EQ(field(obx, 2), "ST");
  EXPECT_EQ(field(obx, 3), e + "^" + e + "^L^" + e + "^^99LG");
  for (size_t n : {5, 6, 7, 8, 18}) EXPECT_EQ(field(obx, n), e) << "OBX-" << n;
  EXPECT_EQ(field(segs[4], 3), e);
  EXPECT_EQ(unescapeText(field(obx, 5)), nasty);
}

TEST(BuildOruR01, EscapesLineBreaksInsideValues) {
  auto segs = segmentsOf(buildOruR01(header(), {sampleWith("S1", {result("A", "see\rnote")})}));
  EXPECT_EQ(field(segs[3], 5), "see\\X0D\\note");
}

TEST(FormatObxValue, RoundsHalfAwayFromZero) {
  auto fmt = [](std::string v, int decimals) {
    Result r = result("X", std::move(v));
    r.decimals = decimals;
    return formatObxValue(r);
  };
  EXPECT_EQ(fmt("2.675", 2).value, "2.68");  // 2.675 is 2.67499.. as a double
  EXPECT_EQ(fmt("2.665", 2).value, "2.67");
  EXPECT_EQ(fmt("-2.5", 0).value, "-3");
  EXPECT_EQ(fmt("2.5", 0).value, "3");
  EXPECT_EQ(fmt("9.96", 1).value, "10.0");
  EXPECT_EQ(fmt("99.95", 1).value, "100.0");
  EXPECT_EQ(fmt("12", 2).value, "12.00");
  EXPECT_EQ(fmt(".5", 1).value, "0.5");
  EXPECT_EQ(fmt("+3.14159", 3).value, "3.142");
  EXPECT_EQ(fmt("-0.004", 2).value, "0.00");
  EXPECT_EQ(fmt("0031.4", 0).value, "31");
  EXPECT_EQ(fmt("1.23456", -1).value, "1.23456");  // as sent
  EXPECT_EQ(fmt("1.23456", 9).value, "1.234560000");
  EXPECT_EQ(fmt("2.675", 2).type, "NM");
}

TEST(FormatObxValue, ChoosesNmSnOrSt) {
  auto fmt = [](std::string v, int decimals = -1) {
    Result r = result("X", std::move(v));
    r.decimals = decimals;
    return formatObxValue(r);
  };
  EXPECT_EQ(fmt(" 42 ").type, "NM");
  EXPECT_EQ(fmt(" 42 ").value, "42");
  EXPECT_EQ(fmt(">8").type, "SN");
  EXPECT_EQ(fmt(">8").value, ">^8");
  EXPECT_EQ(fmt("< 0.50", 1).value, "<^0.5");
  EXPECT_EQ(fmt("<=2.25", 1).value, "<=^2.3");
  EXPECT_EQ(fmt(">=1000").value, ">=^1000");
  EXPECT_EQ(fmt("<>3").value, "<>^3");
  EXPECT_EQ(fmt("Positive").type, "ST");
  EXPECT_EQ(fmt("><5").type, "ST");
  EXPECT_EQ(fmt(">").type, "ST");
  EXPECT_EQ(fmt("1.2.3").type, "ST");
  EXPECT_EQ(fmt("5 ng").type, "ST");
  EXPECT_EQ(fmt("1:128").type, "ST");
  EXPECT_EQ(fmt("").type, "");
}

TEST(FormatObxValue, WritesNumericOnlyValuesInFixedPoint) {
  Result r = result("X", "");
  r.numeric = 0.000125;
  EXPECT_EQ(formatObxValue(r).value, "0.000125");
  r.value = "1.25E-4";
  r.decimals = 5;
  EXPECT_EQ(formatObxValue(r).type, "NM");
  EXPECT_EQ(formatObxValue(r).value, "0.00013");
  r.value = "trace";
  EXPECT_EQ(formatObxValue(r).type, "ST");
}

TEST(RoundDecimalText, RejectsWhatIsNotAPlainDecimal) {
  EXPECT_EQ(roundDecimalText("", 2), "");
  EXPECT_EQ(roundDecimalText("-", 2), "");
  EXPECT_EQ(roundDecimalText(".", 2), "");
  EXPECT_EQ(roundDecimalText("1e3", 2), "");
  EXPECT_EQ(roundDecimalText("1,5", 2), "");
  EXPECT_EQ(roundDecimalText("5.", 1), "5.0");
  EXPECT_EQ(roundDecimalText("-0.5", 0), "-1");
}

}  // namespace
// §11.50 (docs/signatures.md): a result released by an electronic signature names the signer in
// OBX-16 and is followed, after its comment lines, by an NTE stating the signature.
TEST(BuildOruR01, ASignedResultCarriesItsManifestation) {
  Sample sample;
  sample.sampleId = "S1";
  Result signedResult;
  signedResult.instrumentCode = "ZZ";
  signedResult.value = "12";
  signedResult.comment = "re-integrated";
  signedResult.signature =
      ResultSignature{"dana", "Dana Whitfield", "2026-12-07T09:14:03Z", "approved"};
  Result plain;
  plain.instrumentCode = "K";
  plain.value = "4.1";
  sample.results = {signedResult, plain};
  OruHeader header;
  header.controlId = "C1";
  header.timestamp = "20261207091500";
  auto segs = segmentsOf(buildOruR01(header, {sample}));
  std::vector<std::string> tail;
  for (const auto& seg : segs) {
    if (seg.rfind("OBX", 0) == 0 || seg.rfind("NTE", 0) == 0) tail.push_back(seg);
  }
  ASSERT_EQ(tail.size(), 4u);
  EXPECT_EQ(field(tail[0], 16), "dana^Dana Whitfield");
  EXPECT_EQ(field(tail[1], 3), "re-integrated");
  EXPECT_EQ(tail[2],
            "NTE|2|L|Electronically signed (approved) by Dana Whitfield "
            "2026-12-07T09:14:03Z");
  EXPECT_EQ(tail[3].rfind("OBX|2|", 0), 0u);
  EXPECT_EQ(field(tail[3], 16), "") << "an auto-released result names no signer";
}

}  // namespace labgate::hl7
