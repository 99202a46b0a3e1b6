// Text decoding of exports: BOMs, UTF-16 with and without a BOM, Latin-1, chunk boundaries.
#include "connectors/csv/text.h"

#include <gtest/gtest.h>

#include <sstream>

namespace labgate::csv {
namespace {

std::string utf16(const std::string& ascii, bool le, bool bom) {
  std::string out;
  if (bom) out += le ? "\xFF\xFE" : "\xFE\xFF";
  for (char c : ascii) {
    out += le ? std::string{c, '\0'} : std::string{'\0', c};
  }
  return out;
}

TEST(Text, Utf8BomIsDropped) {
  EXPECT_EQ(decodeToUtf8("\xEF\xBB\xBFSample,1\n"), "Sample,1\n");
  EXPECT_EQ(sniffEncoding("\xEF\xBB\xBFx"), Encoding::kUtf8);
}

TEST(Text, Utf16WithAndWithoutBom) {
  for (bool le : {true, false}) {
    for (bool bom : {true, false}) {
      std::string bytes = utf16("Sample,2.5\r\n", le, bom);
      EXPECT_EQ(sniffEncoding(bytes), le ? Encoding::kUtf16Le : Encoding::kUtf16Be);
      EXPECT_EQ(decodeToUtf8(bytes), "Sample,2.5\r\n") << le << bom;
    }
  }
  // A non-ASCII character and a surrogate pair in UTF-16LE.
  EXPECT_EQ(decodeToUtf8(std::string("\xFF\xFE\xB5\x00\x3D\xD8\x00\xDE", 8)),
            "\xC2\xB5\xF0\x9F\x98\x80");
}

TEST(Text, Latin1Bytes) {
  // 0xB5 micro and 0xB0 degree, as TargetLynx and MassHunter Latin-1 exports write them.
  EXPECT_EQ(decodeToUtf8("\xB5g/L 1\xB0", Encoding::kAuto), "\xC2\xB5g/L 1\xC2\xB0");
  EXPECT_EQ(decodeToUtf8("\xB5g", Encoding::kLatin1), "\xC2\xB5g");
  EXPECT_EQ(decodeToUtf8("\x80", Encoding::kLatin1), "\xE2\x82\xAC");  // Windows-1252 euro
}

TEST(Text, MultiByteCharacterSplitAcrossChunks) {
  const size_t chunk = 64 * 1024;
  for (size_t offset : {chunk - 1, chunk - 2, chunk - 3}) {
    std::string bytes(offset, 'a');
    bytes += "\xF0\x9F\x98\x80";  // 4-byte character straddling the boundary
    bytes += "\xC3\xA9z";
    std::istringstream in(bytes);
    TextReader reader(in);
    std::string out;
    while (reader.read(out)) {
    }
    EXPECT_EQ(out, bytes) << offset;
  }
  // UTF-16LE with a surrogate pair straddling the boundary.
  std::string bytes = "\xFF\xFE";
  while (bytes.size() < chunk - 2) bytes += std::string("a\0", 2);
  bytes += std::string("\x3D\xD8\x00\xDE", 4);
  std::istringstream in(bytes);
  TextReader reader(in);
  std::string out;
  while (reader.read(out)) {
  }
  EXPECT_EQ(out.size(), (chunk - 4) / 2 + 4);
  EXPECT_EQ(out.substr(out.size() - 4), "\xF0\x9F\x98\x80");
}

TEST(Text, TruncatedCharacterAtEndIsReplaced) {
  EXPECT_EQ(decodeToUtf8("ab\xE2\x82"), "ab\xC3\xA2\xE2\x80\x9A");  // read as Windows-1252
}

TEST(Text, ParseEncoding) {
  EXPECT_EQ(parseEncoding("k", "latin-1").value(), Encoding::kLatin1);
  EXPECT_EQ(parseEncoding("k", "utf-16be").value(), Encoding::kUtf16Be);
  StatusOr<Encoding> bad = parseEncoding("connector.x.encoding", "ebcdic");
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().location(), "connector.x.encoding");
}

}  // namespace
}  // namespace labgate::csv
