// labgate verify-signature FILE.json --public-key KEY.pem [--json]: verifies an electronic
// signature offline (21 CFR Part 11 §11.70, docs/signatures.md). FILE.json is what
// GET /api/v1/signatures/{id} answered; KEY.pem what GET /api/v1/signing-key answered. Checks the
// Ed25519 signature over the signed bytes, and that what the file shows (meaning, signer, time,
// reason, subject, results, record) is what was signed.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// `args` are the arguments after "verify-signature". Returns the exit status: 0 valid, 1 not
/// valid (or a file cannot be read), 2 usage error.
int runVerifySignature(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace labgate::cli
