// Backup files, the pure half: the manifest and header format, file names and the retention
// choice (see backup.h). backup.cpp does the I/O.
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "engine/store/audit.h"
#include "engine/store/backup.h"
#include "engine/store/backup_detail.h"
#include "util/json_quote.h"

namespace labgate::backup {
namespace {

using detail::bytesOfHex;
using detail::hexOf;
using detail::isBodyFileName;

constexpr const char* kFormat = "labgate-backup";
constexpr int kFormatVersion = 1;         // without a signing key
constexpr int kFormatWithSigningKey = 2;  // format 1 and the server's sealed signing key

/// A sealed signing key's text as the header carries it: base64 of a short blob.
bool isSealedKeyText(const std::string& text) {
  if (text.empty() || text.size() > 1024) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
  });
}

/// A signing key fingerprint: 16 lower-case hex digits.
bool isKeyFingerprint(const std::string& text) {
  return text.size() == 16 && std::all_of(text.begin(), text.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

/// The one JSON string quoting (util/json_quote.h).
std::string jsonString(const std::string& text) { return util::jsonQuote(text); }

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// JSON member access that answers nullopt instead of throwing.
std::optional<std::string> textOf(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (o.isNull() || !o->has(key)) return std::nullopt;
  Poco::Dynamic::Var v = o->get(key);
  if (!v.isString()) return std::nullopt;
  return v.extract<std::string>();
}
std::optional<int64_t> numberOf(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (o.isNull() || !o->has(key)) return std::nullopt;
  Poco::Dynamic::Var v = o->get(key);
  if (!v.isInteger()) return std::nullopt;
  return v.convert<int64_t>();
}

}  // namespace

// ---- manifest and header ----------------------------------------------------------------------

std::string Manifest::toJson() const {
  return std::string("{\"created_at\":") + jsonString(createdAt) +
         ",\"labgated_version\":" + jsonString(version) +
         ",\"schema_version\":" + std::to_string(schemaVersion) +
         ",\"messages\":" + std::to_string(messages) + ",\"results\":" + std::to_string(results) +
         ",\"audit_events\":" + std::to_string(audit) + ",\"audit_head\":" + jsonString(auditHead) +
         ",\"database_sha256\":" + jsonString(databaseSha256) +
         ",\"database_bytes\":" + std::to_string(databaseBytes) +
         ",\"body_files\":" + std::to_string(bodyFiles) +
         (signingKey.empty() ? std::string() : ",\"signing_key\":" + jsonString(signingKey)) + "}";
}

std::string Manifest::digest() const { return sha256Hex(toJson()); }

bool Manifest::sameContent(const Manifest& o) const {
  return schemaVersion == o.schemaVersion && messages == o.messages && results == o.results &&
         audit == o.audit && auditHead == o.auditHead && databaseSha256 == o.databaseSha256 &&
         databaseBytes == o.databaseBytes && bodyFiles == o.bodyFiles;
}

std::string encodeHeader(const Header& h) {
  const bool withKey = !h.signingKeySealed.empty();
  std::string json = std::string("{\"format\":") + jsonString(kFormat) + ",\"format_version\":" +
                     std::to_string(withKey ? kFormatWithSigningKey : kFormatVersion) +
                     ",\"kek_fingerprint\":" + jsonString(h.kekFingerprint) +
                     ",\"data_key\":{\"id\":" + std::to_string(h.dataKey.id) +
                     ",\"wrapped\":" + jsonString(hexOf(h.dataKey.wrapped)) +
                     "},\"manifest\":" + h.manifest.toJson() + ",\"files\":[";
  for (size_t i = 0; i < h.files.size(); ++i) {
    const BodyFile& f = h.files[i];
    json += std::string(i ? "," : "") + "{\"name\":" + jsonString(f.name) +
            ",\"bytes\":" + std::to_string(f.bytes) + ",\"sha256\":" + jsonString(f.sha256) + "}";
  }
  json += "]";
  if (withKey) json += ",\"signing_key_sealed\":" + jsonString(h.signingKeySealed);
  json += "}";
  std::string out = kMagic;
  uint32_t length = static_cast<uint32_t>(json.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((length >> shift) & 0xFF);
  return out + json;
}

StatusOr<Header> decodeHeader(const std::string& bytes, size_t* consumed) {
  const std::string where = "backup header";
  if (bytes.size() < 8 || bytes.compare(0, 4, kMagic) != 0) {
    return Status::invalid(where, "not a LabGate backup (no LGB1 magic)");
  }
  uint32_t length = 0;
  for (int i = 4; i < 8; ++i) length = length << 8 | static_cast<unsigned char>(bytes[i]);
  if (length == 0 || length > detail::kMaxHeaderBytes)
    return Status::invalid(where, "length out of range");
  if (bytes.size() < 8 + static_cast<size_t>(length)) return Status::invalid(where, "truncated");
  Poco::JSON::Object::Ptr root;
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(bytes.substr(8, length));
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
      return Status::invalid(where, "not a JSON object");
    }
    root = parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return Status::invalid(where, "not valid JSON");
  }
  if (textOf(root, "format") != std::string(kFormat)) {
    return Status::invalid(where, "format is not labgate-backup");
  }
  const std::optional<int64_t> formatVersion = numberOf(root, "format_version");
  if (formatVersion != kFormatVersion && formatVersion != kFormatWithSigningKey) {
    return Status::invalid(where, "format_version " + std::to_string(formatVersion.value_or(0)) +
                                      " is not one this program reads (1, 2)");
  }
  Header h;
  Poco::JSON::Object::Ptr key = root->getObject("data_key");
  Poco::JSON::Object::Ptr m = root->getObject("manifest");
  auto fingerprint = textOf(root, "kek_fingerprint");
  auto keyId = numberOf(key, "id");
  auto wrappedHex = textOf(key, "wrapped");
  std::optional<std::string> wrapped = wrappedHex ? bytesOfHex(*wrappedHex) : std::nullopt;
  if (!fingerprint || !keyId || *keyId < 0 || *keyId > UINT32_MAX || !wrapped) {
    return Status::invalid(where, "kek_fingerprint or data_key missing or malformed");
  }
  h.kekFingerprint = *fingerprint;
  h.dataKey.id = static_cast<uint32_t>(*keyId);
  h.dataKey.wrapped = *wrapped;
  h.dataKey.kekFingerprint = *fingerprint;
  struct Text {
    const char* key;
    std::string* out;
  };
  for (const Text& t :
       {Text{"created_at", &h.manifest.createdAt}, Text{"labgated_version", &h.manifest.version},
        Text{"audit_head", &h.manifest.auditHead},
        Text{"database_sha256", &h.manifest.databaseSha256}}) {
    auto v = textOf(m, t.key);
    if (!v) return Status::invalid(where, std::string("manifest.") + t.key + " missing");
    *t.out = *v;
  }
  struct Number {
    const char* key;
    int64_t* out;
  };
  for (const Number& n :
       {Number{"schema_version", &h.manifest.schemaVersion},
        Number{"messages", &h.manifest.messages}, Number{"results", &h.manifest.results},
        Number{"audit_events", &h.manifest.audit},
        Number{"database_bytes", &h.manifest.databaseBytes},
        Number{"body_files", &h.manifest.bodyFiles}}) {
    auto v = numberOf(m, n.key);
    if (!v || *v < 0) return Status::invalid(where, std::string("manifest.") + n.key + " missing");
    *n.out = *v;
  }
  Poco::JSON::Array::Ptr files = root->getArray("files");
  if (files.isNull()) return Status::invalid(where, "files missing");
  for (size_t i = 0; i < files->size(); ++i) {
    Poco::JSON::Object::Ptr f = files->getObject(static_cast<unsigned>(i));
    BodyFile body;
    auto name = textOf(f, "name");
    auto bytes = numberOf(f, "bytes");
    auto sha = textOf(f, "sha256");
    if (!name || !isBodyFileName(*name) || !bytes || *bytes < 0 || !sha) {
      return Status::invalid(where, "files[" + std::to_string(i) + "] malformed");
    }
    h.files.push_back({*name, *bytes, *sha});
  }
  if (static_cast<int64_t>(h.files.size()) != h.manifest.bodyFiles) {
    return Status::invalid(where, "files does not list manifest.body_files files");
  }
  if (formatVersion == kFormatWithSigningKey) {
    // Format 2: the signing key, named in the manifest and carried sealed.
    auto fingerprint = textOf(m, "signing_key");
    auto sealed = textOf(root, "signing_key_sealed");
    if (!fingerprint || !isKeyFingerprint(*fingerprint)) {
      return Status::invalid(where, "manifest.signing_key missing or malformed (format 2)");
    }
    if (!sealed || !isSealedKeyText(*sealed)) {
      return Status::invalid(where, "signing_key_sealed missing or malformed (format 2)");
    }
    h.manifest.signingKey = *fingerprint;
    h.signingKeySealed = *sealed;
  }
  if (consumed) *consumed = 8 + length;
  return h;
}

// ---- names, retention, listing ----------------------------------------------------------------

std::string fileNameFor(int64_t unixSeconds) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(unixSeconds),
                                         "labgate-%Y%m%dT%H%M%SZ") +
         kExtension;
}

std::optional<int64_t> timeOfFileName(const std::string& name) {
  // labgate-YYYYMMDDTHHMMSSZ.lgb
  const std::string prefix = "labgate-";
  if (name.size() != prefix.size() + 16 + 4 || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - 4, 4, kExtension) != 0) {
    return std::nullopt;
  }
  std::string t = name.substr(prefix.size(), 16);
  if (t[8] != 'T' || t[15] != 'Z') return std::nullopt;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(t[i]))) return std::nullopt;
  }
  auto num = [&](size_t at, size_t n) { return std::stoi(t.substr(at, n)); };
  int year = num(0, 4), month = num(4, 2), day = num(6, 2);
  int hour = num(9, 2), minute = num(11, 2), second = num(13, 2);
  if (!Poco::DateTime::isValid(year, month, day, hour, minute, second)) return std::nullopt;
  return Poco::DateTime(year, month, day, hour, minute, second).timestamp().epochTime();
}

std::vector<int64_t> chooseBackupsToDelete(const std::vector<int64_t>& times, int64_t now,
                                           const Retention& keep) {
  std::set<int64_t> kept;
  std::optional<int64_t> newest;  // of those not in the future
  for (int64_t t : times) {
    if (t <= now && (!newest || t > *newest)) newest = t;
  }
  if (newest) kept.insert(*newest);
  auto keepNewestPer = [&](int64_t period, int64_t count) {
    if (count <= 0) return;
    const int64_t current = floorDiv(now, period);
    std::map<int64_t, int64_t> newest;  // bucket → newest time in it
    for (int64_t t : times) {
      int64_t bucket = floorDiv(t, period);
      if (t > now || bucket <= current - count) continue;
      auto [it, inserted] = newest.try_emplace(bucket, t);
      if (!inserted) it->second = std::max(it->second, t);
    }
    for (const auto& entry : newest) kept.insert(entry.second);
  };
  keepNewestPer(3600, keep.hourly);
  keepNewestPer(86400, keep.daily);
  std::vector<int64_t> out;
  for (int64_t t : times) {
    if (t <= now && !kept.count(t)) out.push_back(t);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace labgate::backup
