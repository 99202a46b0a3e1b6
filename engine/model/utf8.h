// The UTF-8 helpers live in util/utf8.h; this header keeps the engine's names for them.
#pragma once

#include "util/utf8.h"

namespace labgate {

using util::firstInvalidUtf8;
using util::isValidUtf8;
using util::latin1ToUtf8;
using util::utf8SequenceLength;

}  // namespace labgate
