// MassHunter's wide form handed over as it is read (ExportParse::takeSamples, ADR 0017): the
// samples taken window by window and the rest from finish() are the samples the whole-file parse
// gives, value for value, and the parse never holds more than a window and one row.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "bench/export_gen.h"
#include "connectors/csv/formats.h"
#include "tests/unit/connectors/csv/export_test_util.h"

namespace labgate::csv {
namespace {

std::string generatedExport(int injections) {
  benchgen::MassHunterWide gen(12, 7);
  std::string text = gen.header();
  for (int i = 0; i < injections; ++i) gen.appendInjection(text, i);
  return text + gen.footer();
}

/// The parse loop with takeSamples() whenever `window` results are complete.
StatusOr<Message> parseInWindows(const std::string& text, size_t window, size_t& largest,
                                 int& takes) {
  ExportSettings settings;
  settings.keyPrefix = "connector.test.";
  StatusOr<std::shared_ptr<const ExportFormat>> format = masshunterFormat().factory(settings);
  if (!format.isOk()) return format.status();
  std::istringstream in(text);
  StatusOr<std::unique_ptr<ExportParse>> opened = format.value()->open(in);
  if (!opened.isOk()) return opened.status();
  ExportParse& parse = *opened.value();
  Message taken;
  for (;;) {
    Record record;
    StatusOr<bool> more = parse.next(record);
    if (!more.isOk()) return more.status();
    if (!more.value()) break;
    Status accepted = parse.accept(record);
    if (!accepted.isOk()) return accepted;
    largest = std::max(largest, parse.completeResults());
    if (parse.completeResults() >= window) {
      parse.takeSamples(taken);
      ++takes;
      EXPECT_EQ(parse.completeResults(), 0u);
    }
  }
  StatusOr<Message> rest = parse.finish();
  if (!rest.isOk()) return rest.status();
  Message out = std::move(rest).value();
  out.samples.insert(out.samples.begin(), std::make_move_iterator(taken.samples.begin()),
                     std::make_move_iterator(taken.samples.end()));
  return out;
}

TEST(MassHunterStream, SamplesTakenInWindowsAreTheWholeFilesSamples) {
  const std::string text = generatedExport(230);
  StatusOr<Message> whole = labgate::testing::parseExportText(masshunterFormat(), text);
  ASSERT_TRUE(whole.isOk()) << whole.status().toString();
  size_t largest = 0;
  int takes = 0;
  StatusOr<Message> windowed = parseInWindows(text, 200, largest, takes);
  ASSERT_TRUE(windowed.isOk()) << windowed.status().toString();
  const size_t perRow = whole->samples.front().results.size();
  EXPECT_GT(takes, 5);
  EXPECT_LE(largest, 200 + perRow);
  EXPECT_EQ(windowed->sender, whole->sender);
  EXPECT_EQ(windowed->listedInRunOrder, whole->listedInRunOrder);
  EXPECT_EQ(windowed->curves.size(), whole->curves.size());
  ASSERT_EQ(windowed->samples.size(), whole->samples.size());
  for (size_t i = 0; i < whole->samples.size(); ++i) {
    const Sample& a = whole->samples[i];
    const Sample& b = windowed->samples[i];
    EXPECT_EQ(b.sampleId, a.sampleId);
    EXPECT_EQ(b.kind, a.kind);
    EXPECT_EQ(b.level, a.level);
    EXPECT_EQ(b.acquiredAt, a.acquiredAt) << a.sampleId;
    EXPECT_EQ(b.dataFile, a.dataFile);
    EXPECT_EQ(b.location, a.location);
    ASSERT_EQ(b.results.size(), a.results.size());
    for (size_t r = 0; r < a.results.size(); ++r) {
      EXPECT_EQ(b.results[r].instrumentCode, a.results[r].instrumentCode);
      EXPECT_EQ(b.results[r].value, a.results[r].value);
      EXPECT_EQ(b.results[r].numeric, a.results[r].numeric);
      EXPECT_EQ(b.results[r].internalStandard, a.results[r].internalStandard);
      EXPECT_EQ(b.results[r].comment, a.results[r].comment);
      ASSERT_EQ(b.results[r].peak.has_value(), a.results[r].peak.has_value());
      if (a.results[r].peak) {
        EXPECT_EQ(b.results[r].peak->area, a.results[r].peak->area);
        EXPECT_EQ(b.results[r].peak->retentionTime, a.results[r].peak->retentionTime);
        EXPECT_EQ(b.results[r].peak->manualIntegration, a.results[r].peak->manualIntegration);
      }
    }
  }
}

TEST(MassHunterStream, AFileWithoutRowsIsStillRefusedAfterTakes) {
  // Samples taken, nothing left: finish() is not "no sample rows".
  const std::string text = generatedExport(10);
  size_t largest = 0;
  int takes = 0;
  StatusOr<Message> windowed = parseInWindows(text, 1, largest, takes);
  ASSERT_TRUE(windowed.isOk()) << windowed.status().toString();
  EXPECT_EQ(takes, 10);
  EXPECT_EQ(windowed->samples.size(), 10u);
  // Only the header: still no sample rows.
  benchgen::MassHunterWide gen(12, 7);
  StatusOr<Message> empty = labgate::testing::parseExportText(masshunterFormat(), gen.header());
  EXPECT_FALSE(empty.isOk());
}

}  // namespace
}  // namespace labgate::csv
