// labgate mappings (see mappings_command.h).
#include "console/cli/mappings_command.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/URI.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "console/cli/session.h"

namespace labgate::cli {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

void usage(std::ostream& out) {
  out << "usage: labgate mappings list [--json]\n"
         "       labgate mappings show NAME [--json]\n"
         "       labgate mappings export NAME [--version V] [--json]\n"
         "       labgate mappings import NAME FILE [--comment TEXT] [--json]\n"
         "       labgate mappings diff NAME V [--against N] [--json]\n"
         "       labgate mappings dry-run NAME V --instrument ID [--last N] [--json]\n"
         "       labgate mappings activate NAME V [--reason TEXT] [--totp CODE] [--json]\n"
         "\n"
         "The mapping sets stored in labgated (docs/mappings.md), on the session of labgate "
         "login.\n"
         "\n"
         "  list      every set: latest and active version, who activated it and when\n"
         "  show      one set: its versions and its activations\n"
         "  export    a version's CSV to stdout (default: the active version)\n"
         "  import    upload FILE as the next version of NAME (not activated); every problem of\n"
         "            the spreadsheet is listed with its line and column\n"
         "  diff      rows added, removed and changed in version V against N (default: the\n"
         "            active version)\n"
         "  dry-run   what version V would change on the instrument's last N stored batches\n"
         "            (default 100): newly mapped, still unmapped, unit mismatches, what would be\n"
         "            released; nothing is written\n"
         "  activate  activate version V: an electronic signature (meaning approved) with your\n"
         "            password (read from the terminal without echo, or from stdin); the first\n"
         "            signature of a session also needs --totp CODE\n"
         "  --json    print the server's answer as it came\n"
         "\n"
         "exit status: 0 done; 1 failed (the server refused, not logged in, network); 2 usage "
         "error.\n";
}

std::string encoded(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "/?#&=+ ", out);
  return out;
}

/// The problems of a refused spreadsheet, one a line ("line 3, column 5 (decimals): ...").
void printProblems(const Answer& a, std::ostream& err) {
  Object::Ptr problem = parseObject(a.body);
  Array::Ptr errors = problem.isNull() ? nullptr : problem->getArray("errors");
  for (size_t i = 0; errors && i < errors->size(); ++i) {
    Object::Ptr e = errors->getObject(static_cast<unsigned>(i));
    err << "  line " << text(e, "line");
    if (text(e, "column") != "0" && !text(e, "column").empty()) {
      err << ", column " << text(e, "column");
      if (!text(e, "column_name").empty()) err << " (" << text(e, "column_name") << ")";
    }
    err << ": " << text(e, "message") << "\n";
  }
}

void printActivation(const Object::Ptr& a, std::ostream& out) {
  out << "version " << text(a, "version") << " activated " << text(a, "activated_at") << " by "
      << text(a, "activated_by");
  if (!text(a, "previous_version").empty()) out << " (was " << text(a, "previous_version") << ")";
  out << "\n";
  if (!text(a, "reason").empty()) out << "  reason: " << text(a, "reason") << "\n";
  Object::Ptr sig = a->getObject("signature");
  if (!sig.isNull()) out << "  " << text(sig, "manifestation") << "\n";
}

/// Parsed options: words and --name value pairs.
struct Parsed {
  std::vector<std::string> words;
  std::map<std::string, std::string> options;
  bool json = false;
};

std::optional<Parsed> parse(const std::vector<std::string>& args, std::ostream& err) {
  static const std::map<std::string, bool> kOptions = {
      {"--version", true},    {"--comment", true}, {"--against", true}, {"--reason", true},
      {"--instrument", true}, {"--last", true},    {"--totp", true},    {"--json", false}};
  Parsed p;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto it = kOptions.find(a);
    if (it != kOptions.end()) {
      if (!it->second) {
        p.json = true;
        continue;
      }
      if (i + 1 >= args.size()) {
        err << "labgate mappings: " << a << " needs a value\n";
        return std::nullopt;
      }
      p.options[a] = args[++i];
    } else if (!a.empty() && a[0] != '-') {
      p.words.push_back(a);
    } else {
      err << "labgate mappings: unexpected argument \"" << a << "\"\n";
      return std::nullopt;
    }
  }
  return p;
}

}  // namespace

int runMappings(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                std::ostream& err) {
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      usage(out);
      return 0;
    }
  }
  std::optional<Parsed> parsed = parse(args, err);
  if (!parsed || parsed->words.empty()) {
    if (parsed)
      err << "labgate mappings: which one: list, show, export, import, diff, dry-run, "
             "activate?\n";
    usage(err);
    return 2;
  }
  const Parsed& p = *parsed;
  const std::string& verb = p.words[0];
  static const std::map<std::string, size_t> kWords = {{"list", 1},    {"show", 2}, {"export", 2},
                                                       {"import", 3},  {"diff", 3}, {"dry-run", 3},
                                                       {"activate", 3}};
  static const std::map<std::string, std::vector<std::string>> kAllowed = {
      {"list", {}},
      {"show", {}},
      {"export", {"--version"}},
      {"import", {"--comment"}},
      {"diff", {"--against"}},
      {"dry-run", {"--instrument", "--last"}},
      {"activate", {"--reason", "--totp"}}};
  auto expected = kWords.find(verb);
  if (expected == kWords.end()) {
    err << "labgate mappings: unknown subcommand \"" << verb << "\"\n";
    usage(err);
    return 2;
  }
  if (p.words.size() != expected->second) {
    err << "labgate mappings " << verb << ": expected " << expected->second - 1 << " argument(s)\n";
    usage(err);
    return 2;
  }
  for (const auto& [option, value] : p.options) {
    const auto& allowed = kAllowed.at(verb);
    if (std::find(allowed.begin(), allowed.end(), option) == allowed.end()) {
      err << "labgate mappings " << verb << ": " << option << " does not apply\n";
      return 2;
    }
  }
  auto option = [&](const std::string& name) {
    auto it = p.options.find(name);
    return it == p.options.end() ? std::string() : it->second;
  };
  for (const char* numeric : {"--version", "--against", "--last"}) {
    if (p.options.count(numeric) && !isNumber(option(numeric))) {
      err << "labgate mappings " << verb << ": " << numeric << " takes a version number\n";
      return 2;
    }
  }
  if (verb == "dry-run" && option("--instrument").empty()) {
    err << "labgate mappings dry-run: --instrument ID is required (whose stored batches to try "
           "the version on)\n";
    return 2;
  }
  if ((verb == "diff" || verb == "dry-run" || verb == "activate") && !isNumber(p.words[2])) {
    err << "labgate mappings " << verb << ": the version must be a number, not \"" << p.words[2]
        << "\"\n";
    return 2;
  }
  const std::string command = "mappings " + verb;
  std::string fileText;
  if (verb == "import") {
    std::ifstream file(p.words[2], std::ios::binary);
    if (!file) {
      err << "labgate " << command << ": cannot read " << p.words[2] << "\n";
      return 1;
    }
    std::ostringstream bytes;
    bytes << file.rdbuf();
    fileText = bytes.str();
  }
  std::optional<QaSession> s = loadSession(command, err);
  if (!s) return 1;
  const std::string base = "/api/v1/mapping-sets";
  const std::string set = p.words.size() > 1 ? base + "/" + encoded(p.words[1]) : base;

  if (verb == "list") {
    Answer a = sessionCall(command, *s, "GET", base, "", err);
    if (a.status < 200 || a.status >= 300) return 1;
    if (p.json) {
      printBody(a.body, out);
      return 0;
    }
    Object::Ptr o = parseObject(a.body);
    Array::Ptr items = o.isNull() ? nullptr : o->getArray("items");
    if (!items || items->size() == 0) {
      out << "no mapping sets\n";
      return 0;
    }
    for (size_t i = 0; i < items->size(); ++i) {
      Object::Ptr item = items->getObject(static_cast<unsigned>(i));
      Object::Ptr active = item->getObject("active");
      out << text(item, "name") << ": latest version " << text(item, "latest_version")
          << ", active " << orDash(text(item, "active_version"));
      if (!active.isNull()) {
        out << " (activated " << text(active, "activated_at") << " by "
            << text(active, "activated_by") << ")";
      }
      out << "\n";
    }
    return 0;
  }
  if (verb == "show") {
    Answer a = sessionCall(command, *s, "GET", set, "", err);
    if (a.status < 200 || a.status >= 300) return 1;
    if (p.json) {
      printBody(a.body, out);
      return 0;
    }
    Object::Ptr o = parseObject(a.body);
    out << "mapping set " << text(o, "name") << ", active version "
        << orDash(text(o, "active_version")) << "\n\nversions:\n";
    Array::Ptr versions = o->getArray("versions");
    for (size_t i = 0; versions && i < versions->size(); ++i) {
      Object::Ptr v = versions->getObject(static_cast<unsigned>(i));
      out << "  " << text(v, "version") << (text(v, "active") == "true" ? " *" : "  ") << " "
          << text(v, "rows") << " rows, " << text(v, "created_at") << " by "
          << text(v, "created_by");
      if (!text(v, "comment").empty()) out << ": " << text(v, "comment");
      out << "\n";
    }
    out << "\nactivations:\n";
    Array::Ptr activations = o->getArray("activations");
    for (size_t i = 0; activations && i < activations->size(); ++i) {
      out << "  ";
      printActivation(activations->getObject(static_cast<unsigned>(i)), out);
    }
    return 0;
  }
  if (verb == "export") {
    std::string version = option("--version");
    if (version.empty()) {
      Answer a = sessionCall(command, *s, "GET", set, "", err);
      if (a.status < 200 || a.status >= 300) return 1;
      version = text(parseObject(a.body), "active_version");
      if (version.empty()) {
        err << "labgate " << command << ": " << p.words[1]
            << " has no active version; name one with --version V\n";
        return 1;
      }
    }
    Answer a = sessionCall(command, *s, "GET", set + "/versions/" + version, "", err,
                           "application/json", p.json ? "application/json" : "text/csv");
    if (a.status < 200 || a.status >= 300) return 1;
    out << a.body;
    return 0;
  }
  if (verb == "import") {
    std::string path = set + "/versions";
    if (!option("--comment").empty()) path += "?comment=" + encoded(option("--comment"));
    Answer a = sessionCall(command, *s, "POST", path, fileText, err, "text/csv");
    if (a.status == 422) printProblems(a, err);
    if (a.status < 200 || a.status >= 300) {
      if (p.json && !a.body.empty()) printBody(a.body, out);
      return 1;
    }
    if (p.json) {
      printBody(a.body, out);
      return 0;
    }
    Object::Ptr v = parseObject(a.body);
    out << "stored version " << text(v, "version") << " of " << p.words[1] << " ("
        << text(v, "rows") << " rows, sha256 " << text(v, "sha256")
        << "); not active yet: labgate mappings activate " << p.words[1] << " "
        << text(v, "version") << "\n";
    return 0;
  }
  if (verb == "diff") {
    std::string path = set + "/versions/" + p.words[2] + "/diff";
    if (!option("--against").empty()) path += "?against=" + option("--against");
    Answer a = sessionCall(command, *s, "GET", path, "", err);
    if (a.status < 200 || a.status >= 300) return 1;
    if (p.json) {
      printBody(a.body, out);
      return 0;
    }
    Object::Ptr d = parseObject(a.body);
    out << p.words[1] << " version " << text(d, "version") << " against "
        << (text(d, "against") == "0" ? std::string("nothing") : "version " + text(d, "against"))
        << "\n";
    auto rows = [&](const char* name, const char* mark) {
      Array::Ptr list = d->getArray(name);
      for (size_t i = 0; list && i < list->size(); ++i) {
        Object::Ptr r = list->getObject(static_cast<unsigned>(i));
        out << mark << " " << text(r, "instrument_code") << " -> " << text(r, "lis_code") << " "
            << text(r, "lis_name") << " [" << text(r, "units") << "] decimals "
            << orDash(text(r, "decimals")) << "\n";
      }
    };
    rows("added", "+");
    rows("removed", "-");
    Array::Ptr changed = d->getArray("changed");
    for (size_t i = 0; changed && i < changed->size(); ++i) {
      Object::Ptr c = changed->getObject(static_cast<unsigned>(i));
      out << "~ " << text(c, "instrument_code") << ":";
      Array::Ptr columns = c->getArray("changes");
      for (size_t j = 0; columns && j < columns->size(); ++j) {
        Object::Ptr col = columns->getObject(static_cast<unsigned>(j));
        out << " " << text(col, "column") << " \"" << text(col, "old") << "\" -> \""
            << text(col, "new") << "\"";
      }
      out << "\n";
    }
    out << text(d, "unchanged") << " row(s) unchanged\n";
    return 0;
  }
  if (verb == "dry-run") {
    std::string path =
        set + "/versions/" + p.words[2] + "/dry-run?instrument=" + encoded(option("--instrument"));
    if (!option("--last").empty()) path += "&last=" + option("--last");
    Answer a = sessionCall(command, *s, "POST", path, "", err);
    if (!ok(a)) {
      printProblems(a, err);
      return 1;
    }
    if (p.json) {
      printBody(a.body, out);
      return 0;
    }
    Object::Ptr d = parseObject(a.body);
    out << p.words[1] << " version " << p.words[2] << " on " << text(d, "instrument") << ": "
        << text(d, "batches") << " batch(es), " << text(d, "results") << " result(s)\n";
    Object::Ptr summary = d.isNull() ? nullptr : d->getObject("summary");
    for (const char* key :
         {"newly_mapped", "still_unmapped", "now_unmapped", "code_changed", "units_mismatch",
          "decimals_changed", "would_change", "would_release"}) {
      out << "  " << key << ": " << orDash(text(summary, key)) << "\n";
    }
    out << "nothing was written\n";
    return 0;
  }
  // activate
  Answer current = sessionCall(command, *s, "GET", set, "", err);
  if (current.status < 200 || current.status >= 300) return 1;
  const std::string active = text(parseObject(current.body), "active_version");
  std::optional<std::string> password = readSecret(in, err, "Password (to sign): ");
  if (!password || password->empty()) {
    err << "labgate " << command << ": no password given\n";
    return 1;
  }
  Object::Ptr body = new Object;
  body->set("meaning", "approved");
  body->set("password", *password);
  body->set("expected_active_version",
            static_cast<Poco::Int64>(active.empty() ? 0 : std::stoll(active)));
  if (p.options.count("--reason")) body->set("reason", option("--reason"));
  if (!option("--totp").empty()) body->set("totp", option("--totp"));
  Answer a = sessionCall(command, *s, "POST", set + "/versions/" + p.words[2] + "/activation",
                         condensed(body), err);
  if (a.status < 200 || a.status >= 300) {
    if (a.status == 422) printProblems(a, err);
    Object::Ptr problem = parseObject(a.body);
    if (!problem.isNull() && text(problem, "totp_required") == "true") {
      err << "labgate " << command
          << ": the first signature of a session needs your TOTP code: run again with --totp "
             "CODE\n";
    }
    if (p.json && !a.body.empty()) printBody(a.body, out);
    return 1;
  }
  if (p.json) {
    printBody(a.body, out);
    return 0;
  }
  out << p.words[1] << ": ";
  printActivation(parseObject(a.body), out);
  return 0;
}

}  // namespace labgate::cli
