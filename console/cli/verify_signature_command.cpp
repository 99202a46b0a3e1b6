// labgate verify-signature (see verify_signature_command.h).
#include "console/cli/verify_signature_command.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <fstream>
#include <sstream>

#include "engine/security/signing_key.h"
#include "util/json_quote.h"

namespace labgate::cli {
namespace {

void usage(std::ostream& out) {
  out << "usage: labgate verify-signature FILE.json --public-key KEY.pem [--json]\n"
         "\n"
         "Verifies an electronic signature offline. FILE.json is the answer of\n"
         "GET /api/v1/signatures/{id}; KEY.pem the answer of GET /api/v1/signing-key. Checks the\n"
         "Ed25519 signature over signed_bytes and that the meaning, signer, printed name, time,\n"
         "reason, subject, results and record_sha256 the file shows are those that were signed.\n"
         "\n"
         "  --json   print {\"valid\": true|false, \"reason\": \"...\"}\n"
         "\n"
         "exit status: 0 valid; 1 not valid, or a file cannot be read; 2 usage error.\n";
}

std::optional<std::string> readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The text form of a JSON member for comparison ("" when absent).
std::string memberText(const Poco::JSON::Object::Ptr& o, const std::string& name) {
  if (!o || !o->has(name) || o->isNull(name)) return "";
  Poco::Dynamic::Var v = o->get(name);
  if (v.isString() || v.isNumeric()) return v.convert<std::string>();
  std::ostringstream text;
  Poco::JSON::Stringifier::condense(v, text);
  return text.str();
}

/// "" when valid, else why not.
std::string check(const std::string& file, const std::string& pem) {
  Poco::JSON::Object::Ptr shown;
  try {
    shown = Poco::JSON::Parser().parse(file).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return "FILE.json is not a JSON object";
  }
  std::optional<std::string> bytes = security::base64Decode(memberText(shown, "signed_bytes"));
  std::optional<std::string> signature = security::base64Decode(memberText(shown, "signature"));
  if (!bytes || bytes->empty() || !signature || signature->empty()) {
    return "FILE.json has no base64 \"signed_bytes\" and \"signature\" (the answer of GET "
           "/api/v1/signatures/{id})";
  }
  Status verified = security::verifyEd25519(pem, *bytes, *signature);
  if (!verified.isOk()) return verified.reason();
  Poco::JSON::Object::Ptr signedJson;
  try {
    signedJson = Poco::JSON::Parser().parse(*bytes).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return "the signed bytes are not a JSON object";
  }
  Poco::JSON::Object::Ptr signer = signedJson->getObject("signer");
  const std::pair<const char*, std::string> expected[] = {
      {"meaning", memberText(signedJson, "meaning")},
      {"signed_at", memberText(signedJson, "signed_at")},
      {"reason", memberText(signedJson, "reason")},
      {"record_sha256", memberText(signedJson, "record_sha256")},
      {"subject", memberText(signedJson, "subject")},
      {"results", memberText(signedJson, "results")},
      {"signer", memberText(signer, "username")},
      {"printed_name", memberText(signer, "printed_name")}};
  for (const auto& [name, value] : expected) {
    if (memberText(shown, name) != value) {
      return std::string("\"") + name + "\" in FILE.json differs from what was signed";
    }
  }
  return "";
}

}  // namespace

int runVerifySignature(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string file, key;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      usage(out);
      return 0;
    }
    if (a == "--json") {
      json = true;
    } else if (a == "--public-key" && i + 1 < args.size()) {
      key = args[++i];
    } else if (!a.empty() && a[0] != '-' && file.empty()) {
      file = a;
    } else {
      usage(err);
      return 2;
    }
  }
  if (file.empty() || key.empty()) {
    usage(err);
    return 2;
  }
  std::optional<std::string> text = readAll(file);
  std::optional<std::string> pem = readAll(key);
  std::string why;
  if (!text) {
    why = "cannot read " + file;
  } else if (!pem) {
    why = "cannot read " + key;
  } else {
    why = check(*text, *pem);
  }
  if (json) {
    out << "{\"valid\":" << (why.empty() ? "true" : "false")
        << ",\"reason\":" << util::jsonQuote(why.empty() ? "the signature is valid" : why) << "}\n";
  } else if (why.empty()) {
    out << "valid: the signature matches the signed bytes and what the file shows\n";
  } else {
    out << "NOT valid: " << why << "\n";
  }
  return why.empty() ? 0 : 1;
}

}  // namespace labgate::cli
