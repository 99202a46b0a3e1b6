// Document helpers.
#include "engine/model/document.h"

namespace labgate {

const std::string& Record::raw(size_t field) const {
  static const std::string kEmpty;
  return field < fields.size() ? fields[field].raw : kEmpty;
}

std::string Record::location(size_t field) const {
  if (line <= 0) return type + "-" + std::to_string(field);
  std::string out = "line " + std::to_string(line) + " " + type;
  if (namesInLocation && names && field < names->size() && !(*names)[field].empty()) {
    out += (*names)[field].front() == '#' ? "" : "@";
    out += (*names)[field];
  } else {
    out += " " + std::to_string(field);
  }
  return out;
}

}  // namespace labgate
