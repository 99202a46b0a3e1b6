// Normalised screening forms of a field (see normalize.h): NFKC and the ASCII fold.
#include "engine/phi/normalize.h"

#include <unicode/bytestream.h>
#include <unicode/localpointer.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <climits>
#include <cstdint>
#include <unordered_map>

namespace labgate::phi {
namespace {

/// The process's confusable-skeleton checker, opened once; null when ICU cannot open one (then
/// characters without a rule of their own are kept as they are).
const USpoofChecker* spoofChecker() {
  static const icu::LocalUSpoofCheckerPointer checker = [] {
    UErrorCode status = U_ZERO_ERROR;
    USpoofChecker* opened = uspoof_open(&status);
    if (U_FAILURE(status)) {
      if (opened) uspoof_close(opened);
      opened = nullptr;
    }
    return icu::LocalUSpoofCheckerPointer(opened);
  }();
  return checker.getAlias();
}

/// The ASCII stand-in of the non-ASCII, non-dash, non-space, non-digit character `c`: its
/// confusable skeleton without combining marks, when that is ASCII; "" (keep `c`) otherwise.
std::string skeletonOf(UChar32 c) {
  const USpoofChecker* checker = spoofChecker();
  if (!checker) return "";
  UChar in[2];
  int32_t length = 0;
  U16_APPEND_UNSAFE(in, length, c);
  UChar out[32];
  UErrorCode status = U_ZERO_ERROR;
  int32_t produced = uspoof_getSkeleton(checker, 0, in, length, out, 32, &status);
  if (U_FAILURE(status) || produced <= 0 || produced > 32) return "";
  std::string ascii;
  for (int32_t i = 0; i < produced; ++i) {
    const UChar unit = out[i];
    if (u_charType(unit) == U_NON_SPACING_MARK) continue;
    if (unit >= 0x80) return "";
    ascii.push_back(static_cast<char>(unit));
  }
  // A skeleton's prototype may be lower case where the character is upper case (Cyrillic `І` ->
  // `l`): keep the case, so that patterns for capitalised names still see a capital.
  if (ascii.size() == 1 && u_isupper(c) && ascii[0] >= 'a' && ascii[0] <= 'z') {
    ascii[0] = ascii[0] == 'l' ? 'I' : static_cast<char>(ascii[0] - 'a' + 'A');
  }
  return ascii;
}

/// Appends the fold of the non-ASCII code point `c` (whose UTF-8 bytes are `bytes`) to `out`.
void appendFolded(UChar32 c, std::string_view bytes, std::string& out) {
  switch (u_charType(c)) {
    case U_DASH_PUNCTUATION:
      out.push_back('-');
      return;
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
      out.push_back(' ');
      return;
    case U_DECIMAL_DIGIT_NUMBER: {
      const int32_t value = u_charDigitValue(c);
      if (value >= 0 && value <= 9) {
        out.push_back(static_cast<char>('0' + value));
        return;
      }
      break;
    }
    case U_FORMAT_CHAR:
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
      return;  // invisible: zero-width space, soft hyphen, word joiner, a combining accent
    default:
      break;
  }
  if (c == 0x2212 || c == 0x2043) {  // minus sign, hyphen bullet: dashes in all but category
    out.push_back('-');
    return;
  }
  // Skeleton lookups are cached per thread; the cache is bounded (an attacker sending every code
  // point costs one refill, not unbounded memory).
  thread_local std::unordered_map<UChar32, std::string> cache;
  auto found = cache.find(c);
  if (found == cache.end()) {
    if (cache.size() >= 4096) cache.clear();
    found = cache.emplace(c, skeletonOf(c)).first;
  }
  if (found->second.empty()) {
    out.append(bytes);
  } else {
    out.append(found->second);
  }
}

}  // namespace

bool isAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

std::string nfkcForm(std::string_view utf8) {
  if (utf8.size() > static_cast<size_t>(INT32_MAX)) return std::string(utf8);  // ICU's limit
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(status);
  if (U_FAILURE(status) || !nfkc) return std::string(utf8);
  const icu::StringPiece piece(utf8.data(), static_cast<int32_t>(utf8.size()));
  // Most text is NFKC already (accents, dashes, CJK): checked on the UTF-8 itself.
  if (nfkc->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return std::string(utf8);
  status = U_ZERO_ERROR;
  std::string out;
  out.reserve(utf8.size());
  icu::StringByteSink<std::string> sink(&out);
  nfkc->normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) return std::string(utf8);
  return out;
}

std::string foldedForm(std::string_view nfkc) {
  if (nfkc.size() > static_cast<size_t>(INT32_MAX)) return std::string(nfkc);
  std::string out;
  out.reserve(nfkc.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(nfkc.data());
  const int32_t length = static_cast<int32_t>(nfkc.size());
  int32_t i = 0;
  while (i < length) {
    if (bytes[i] < 0x80) {
      out.push_back(static_cast<char>(bytes[i++]));
      continue;
    }
    const int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(bytes, i, length, c);
    const std::string_view sequence =
        nfkc.substr(static_cast<size_t>(start), static_cast<size_t>(i - start));
    if (c < 0) {
      out.append(sequence);  // not UTF-8: kept as sent
    } else {
      appendFolded(c, sequence, out);
    }
  }
  return out;
}

std::string latin1Reread(std::string_view utf8) {
  if (utf8.size() > static_cast<size_t>(INT32_MAX)) return "";
  std::string bytes;
  bytes.reserve(utf8.size());
  const auto* in = reinterpret_cast<const uint8_t*>(utf8.data());
  const int32_t length = static_cast<int32_t>(utf8.size());
  int32_t i = 0;
  bool high = false;
  while (i < length) {
    UChar32 c = 0;
    U8_NEXT(in, i, length, c);
    if (c < 0 || c > 0xFF) return "";
    high = high || c >= 0x80;
    bytes.push_back(static_cast<char>(c));
  }
  if (!high) return "";
  const auto* out = reinterpret_cast<const uint8_t*>(bytes.data());
  const int32_t outLength = static_cast<int32_t>(bytes.size());
  int32_t k = 0;
  while (k < outLength) {
    UChar32 c = 0;
    U8_NEXT(out, k, outLength, c);
    if (c < 0) return "";
  }
  return bytes;
}

}  // namespace labgate::phi
