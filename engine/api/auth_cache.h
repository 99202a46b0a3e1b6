// The authentication cache (ADR 0020): what a session token or an API key authenticated as — the
// session or key row, the user, the organisation, its parsed IP allow-list and the permissions —
// kept in memory by the credential's digest, so that an authenticated request reads nothing from
// the store. Each grant carries the accounts generation it was read under
// (AccountStore::generation()); a grant is only used while the generation is still the same, and
// every write that can change an authentication answer moves the generation once it has
// committed. So disabling a user, ending or revoking a session, changing roles, revoking an API
// key or changing the organisation takes effect on the very next request, as without the cache.
// What depends on the time (idle and absolute timeouts, key expiry, password ageing) and on the
// request (peer address, CSRF token) is still judged on every request, from the grant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/security/cidr.h"
#include "engine/store/accounts.h"

namespace labgate::api {

/// A set of permissions shared, not copied, between the cached grant and the requests using it.
class PermissionSet {
 public:
  using Set = std::set<std::string>;
  PermissionSet() = default;
  explicit PermissionSet(Set permissions)
      : set_(std::make_shared<const Set>(std::move(permissions))) {}
  size_t count(const std::string& permission) const { return set_ ? set_->count(permission) : 0; }
  Set::const_iterator begin() const { return set().begin(); }
  Set::const_iterator end() const { return set().end(); }
  size_t size() const { return set_ ? set_->size() : 0; }

 private:
  const Set& set() const;
  std::shared_ptr<const Set> set_;
};

/// The organisation's side of a grant: the row and its allow-list, parsed once.
struct OrganisationGrant {
  Organisation org;
  /// nullopt when the stored list does not parse (every address is then refused, as before).
  std::optional<security::AllowList> allow;
};

/// What a session token authenticated as, read under `generation`.
struct SessionGrant {
  uint64_t generation = 0;
  std::shared_ptr<const SessionRecord> session;
  std::shared_ptr<const User> user;              // null: no such user (never cached)
  std::shared_ptr<const OrganisationGrant> org;  // null: no such organisation (never cached)
  PermissionSet permissions;
  std::optional<int64_t> lastSeenMillis;  // session->lastSeenAt parsed
  std::optional<int64_t> expiresMillis;   // session->expiresAt parsed
};

/// What an API key authenticated as, read under `generation` (only keys that authenticated: a
/// refused key is read again at each use, and each refusal recorded, as before).
struct KeyGrant {
  uint64_t generation = 0;
  std::shared_ptr<const ApiKeyRecord> key;
  std::shared_ptr<const OrganisationGrant> org;
  PermissionSet permissions;
  std::optional<int64_t> lastUsedMillis;  // key->lastUsedAt parsed
  std::optional<int64_t> expiresMillis;   // key->expiresAt parsed; nullopt: no expiry
};

/// Grants by credential digest. Thread-safe. At most `capacity` grants of each kind: when full,
/// grants of an older generation go first, then arbitrary ones (a dropped grant is read again).
class AuthCache {
 public:
  static constexpr size_t kDefaultCapacity = 4096;
  explicit AuthCache(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  /// The grant of `digest` if it was read under `generation` (a grant of another one is dropped).
  std::shared_ptr<const SessionGrant> session(const std::string& digest, uint64_t generation);
  std::shared_ptr<const KeyGrant> key(const std::string& digest, uint64_t generation);
  /// Keeps `grant` (replacing the one of the same digest).
  void keep(const std::string& digest, std::shared_ptr<const SessionGrant> grant);
  void keep(const std::string& digest, std::shared_ptr<const KeyGrant> grant);
  void forget(const std::string& digest);

  struct Counts {
    uint64_t hits = 0;
    uint64_t misses = 0;  // not cached, or cached under an older generation
    size_t sessions = 0;
    size_t keys = 0;
  };
  Counts counts() const;

 private:
  template <typename Grant>
  using Map = std::unordered_map<std::string, std::shared_ptr<const Grant>>;
  template <typename Grant>
  std::shared_ptr<const Grant> find(Map<Grant>& map, const std::string& digest,
                                    uint64_t generation);
  template <typename Grant>
  void put(Map<Grant>& map, const std::string& digest, std::shared_ptr<const Grant> grant);

  const size_t capacity_;
  mutable std::mutex mutex_;
  Map<SessionGrant> sessions_;
  Map<KeyGrant> keys_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace labgate::api
