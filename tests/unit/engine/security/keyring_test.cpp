// Tests for engine/security/keyring: AES-256-GCM sealing of blobs and chunked files under wrapped
// data keys, tamper and misuse detection, key files (mode, owner, hard links, place, length, no
// overwrite), and KEK rotation by re-wrapping.
#include "engine/security/keyring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "engine/security/crypto.h"
#include "engine/security/posix_file.h"

namespace labgate::security {
namespace {

namespace fs = std::filesystem;

KeyEncryptionKey testKek() {
  KeyEncryptionKey kek;
  kek.bytes = randomBytes(32);
  kek.fingerprint = tokenDigest(kek.bytes).substr(0, 16);
  return kek;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "labgate-keyring-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string readAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void writeAll(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

/// Deterministic, non-repeating-looking content of `n` bytes.
std::string content(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x & 0xFF);
  }
  return s;
}

// ---- blobs ----

TEST(AesGcm, RoundTripAndLayout) {
  const std::string key = randomBytes(32);
  const std::string sealed = aesGcmSeal(key, "hello", "aad");
  EXPECT_EQ(sealed.size(), 12u + 5u + 16u);
  EXPECT_EQ(aesGcmOpen(key, sealed, "aad"), std::optional<std::string>("hello"));
  EXPECT_EQ(aesGcmOpen(key, sealed, "other"), std::nullopt);
  EXPECT_EQ(aesGcmOpen(randomBytes(32), sealed, "aad"), std::nullopt);
  EXPECT_EQ(aesGcmOpen(key, sealed.substr(0, 20), "aad"), std::nullopt);
  EXPECT_THROW(aesGcmSeal("short", "x", ""), std::invalid_argument);
}

TEST(Keyring, SealOpenRoundTrip) {
  Keyring ring(testKek());
  ring.newDataKey(1);
  for (const std::string& plain : {std::string(), std::string("x"), content(100000)}) {
    const std::string sealed = ring.seal(plain, "message-body");
    EXPECT_EQ(sealed.substr(0, 4), "LGE1");
    EXPECT_EQ(Keyring::sealedKeyId(sealed), std::optional<uint32_t>(1));
    EXPECT_EQ(sealed.size(), 8u + 12u + plain.size() + 16u);
    ASSERT_EQ(ring.open(sealed, "message-body"), std::optional<std::string>(plain));
  }
}

TEST(Keyring, SealWithoutDataKeyThrows) {
  Keyring ring(testKek());
  EXPECT_EQ(ring.activeKeyId(), std::nullopt);
  EXPECT_THROW(ring.seal("x", "a"), std::logic_error);
}

TEST(Keyring, AnyFlippedByteIsRefused) {
  Keyring ring(testKek());
  ring.newDataKey(1);
  const std::string sealed = ring.seal("ASTM body with a result", "message-body");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_EQ(ring.open(tampered, "message-body"), std::nullopt) << "byte " << i;
  }
  EXPECT_EQ(ring.open(sealed.substr(0, sealed.size() - 1), "message-body"), std::nullopt);
  EXPECT_EQ(ring.open(sealed + "x", "message-body"), std::nullopt);
}

TEST(Keyring, WrongAadIsRefused) {
  Keyring ring(testKek());
  ring.newDataKey(1);
  const std::string sealed = ring.seal("secret", "message-body");
  EXPECT_EQ(ring.open(sealed, "totp-secret"), std::nullopt);
  EXPECT_EQ(ring.open(sealed, ""), std::nullopt);
}

TEST(Keyring, UnknownKeyIdIsRefused) {
  Keyring a(testKek());
  a.newDataKey(7);
  const std::string sealed = a.seal("secret", "x");
  Keyring b(testKek());
  b.newDataKey(1);
  EXPECT_EQ(b.open(sealed, "x"), std::nullopt);
  // The same id under another key does not open either.
  Keyring c(testKek());
  c.newDataKey(7);
  EXPECT_EQ(c.open(sealed, "x"), std::nullopt);
  EXPECT_EQ(Keyring::sealedKeyId("not sealed"), std::nullopt);
}

TEST(Keyring, NoncesDiffer) {
  Keyring ring(testKek());
  ring.newDataKey(1);
  std::set<std::string> nonces;
  for (int i = 0; i < 200; ++i) {
    const std::string sealed = ring.seal("same plaintext", "a");
    nonces.insert(sealed.substr(8, 12));
  }
  EXPECT_EQ(nonces.size(), 200u);
}

TEST(Keyring, ActiveKeyIsTheHighestIdAndOldKeysStillOpen) {
  Keyring ring(testKek());
  ring.newDataKey(1);
  const std::string old = ring.seal("old", "a");
  ring.newDataKey(2);
  EXPECT_EQ(ring.activeKeyId(), std::optional<uint32_t>(2));
  const std::string fresh = ring.seal("new", "a");
  EXPECT_EQ(Keyring::sealedKeyId(fresh), std::optional<uint32_t>(2));
  EXPECT_EQ(ring.open(old, "a"), std::optional<std::string>("old"));
}

// ---- data keys and KEK rotation ----

TEST(Keyring, WrappedDataKeyReloadsUnderTheSameKek) {
  const KeyEncryptionKey kek = testKek();
  std::string sealed;
  WrappedKey wrapped;
  {
    Keyring ring(kek);
    wrapped = ring.newDataKey(3);
    EXPECT_EQ(wrapped.kekFingerprint, kek.fingerprint);
    EXPECT_EQ(wrapped.wrapped.find(kek.bytes), std::string::npos);
    sealed = ring.seal("body", "a");
  }
  Keyring again(kek);
  ASSERT_TRUE(again.addDataKey(wrapped).isOk());
  EXPECT_EQ(again.open(sealed, "a"), std::optional<std::string>("body"));
}

TEST(Keyring, DataKeyWrappedByAnotherKekNamesBothFingerprints) {
  const KeyEncryptionKey old = testKek();
  Keyring first(old);
  const WrappedKey wrapped = first.newDataKey(1);
  const KeyEncryptionKey other = testKek();
  Keyring second(other);
  const Status s = second.addDataKey(wrapped);
  EXPECT_EQ(s.code(), Status::Code::kConfig);
  EXPECT_NE(s.reason().find(old.fingerprint), std::string::npos);
  EXPECT_NE(s.reason().find(other.fingerprint), std::string::npos);
}

TEST(Keyring, TamperedOrMovedWrappedKeyIsInvalid) {
  const KeyEncryptionKey kek = testKek();
  Keyring first(kek);
  WrappedKey wrapped = first.newDataKey(1);
  Keyring second(kek);
  WrappedKey moved = wrapped;
  moved.id = 2;  // the id is bound into the wrapping
  EXPECT_EQ(second.addDataKey(moved).code(), Status::Code::kInvalid);
  wrapped.wrapped[5] = static_cast<char>(wrapped.wrapped[5] ^ 0x40);
  EXPECT_EQ(second.addDataKey(wrapped).code(), Status::Code::kInvalid);
}

TEST(Keyring, RewrapUnderANewKekKeepsContentReadable) {
  const KeyEncryptionKey oldKek = testKek();
  WrappedKey wrapped;
  std::string sealed;
  {
    Keyring ring(oldKek);
    wrapped = ring.newDataKey(1);
    sealed = ring.seal("result comment", "message-body");
  }
  const KeyEncryptionKey newKek = testKek();
  WrappedKey rewrapped;
  {
    Keyring rotating(newKek, oldKek);
    EXPECT_EQ(rotating.previousKekFingerprint(), std::optional<std::string>(oldKek.fingerprint));
    ASSERT_TRUE(rotating.addDataKey(wrapped).isOk());
    const std::optional<WrappedKey> r = rotating.rewrap(1);
    ASSERT_TRUE(r.has_value());
    rewrapped = *r;
    EXPECT_EQ(rewrapped.id, 1u);
    EXPECT_EQ(rewrapped.kekFingerprint, newKek.fingerprint);
    EXPECT_NE(rewrapped.wrapped, wrapped.wrapped);
    EXPECT_EQ(rotating.rewrap(9), std::nullopt);
  }
  // Only the new KEK from now on: the re-wrapped key opens the content sealed before rotation.
  Keyring after(newKek);
  ASSERT_TRUE(after.addDataKey(rewrapped).isOk());
  EXPECT_EQ(after.open(sealed, "message-body"), std::optional<std::string>("result comment"));
  EXPECT_FALSE(after.addDataKey(wrapped).isOk());
}

// ---- files ----

struct SealedFile {
  std::string header;                // 24 bytes
  std::vector<std::string> records;  // each length | nonce | ciphertext | tag
};

SealedFile splitSealed(const std::string& bytes) {
  SealedFile f;
  f.header = bytes.substr(0, 24);
  size_t pos = 24;
  while (pos + 4 <= bytes.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
    const size_t len = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
    const size_t recordSize = 4 + 12 + len + 16;
    f.records.push_back(bytes.substr(pos, recordSize));
    pos += recordSize;
  }
  return f;
}

std::string joinSealed(const SealedFile& f) {
  std::string out = f.header;
  for (const std::string& r : f.records) out += r;
  return out;
}

class KeyringFiles : public ::testing::TestWithParam<size_t> {
 protected:
  TempDir dir_;
};

TEST_P(KeyringFiles, RoundTrip) {
  Keyring ring(testKek());
  ring.newDataKey(1);
  const std::string plain = content(GetParam());
  writeAll(dir_ / "in", plain);
  ASSERT_TRUE(ring.sealFile((dir_ / "in").string(), (dir_ / "sealed").string(), "upload").isOk());
  const std::string sealed = readAll(dir_ / "sealed");
  const size_t chunks = plain.empty() ? 1 : (plain.size() + (1u << 20) - 1) / (1u << 20);
  EXPECT_EQ(sealed.size(), 24 + chunks * 32 + plain.size());
  if (plain.size() >= 64) {
    EXPECT_EQ(sealed.find(plain.substr(0, 64)), std::string::npos);
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "sealed").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_TRUE(ring.openFile((dir_ / "sealed").string(), (dir_ / "out").string(), "upload").isOk());
  EXPECT_TRUE(readAll(dir_ / "out") == plain);
  EXPECT_FALSE(
      ring.openFile((dir_ / "sealed").string(), (dir_ / "out2").string(), "backup").isOk());
  EXPECT_FALSE(fs::exists(dir_ / "out2"));
}

INSTANTIATE_TEST_SUITE_P(Sizes, KeyringFiles,
                         ::testing::Values(size_t{0}, size_t{1}, size_t{1} << 20,
                                           (size_t{7} << 20) / 2));

class KeyringFileTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    ring_.newDataKey(1);
    writeAll(dir_ / "in", content((size_t{7} << 20) / 2));  // 3.5 MiB: four chunks
    ASSERT_TRUE(ring_.sealFile((dir_ / "in").string(), (dir_ / "sealed").string(), "a").isOk());
    sealed_ = splitSealed(readAll(dir_ / "sealed"));
    ASSERT_EQ(sealed_.records.size(), 4u);
  }
  bool opens(const std::string& bytes) {
    writeAll(dir_ / "bad", bytes);
    const Status s = ring_.openFile((dir_ / "bad").string(), (dir_ / "out").string(), "a");
    if (!s.isOk()) {
      EXPECT_FALSE(fs::exists(dir_ / "out"));
    }
    return s.isOk();
  }
  TempDir dir_;
  Keyring ring_{testKek()};
  SealedFile sealed_;
};

TEST_F(KeyringFileTamper, IntactOpens) { EXPECT_TRUE(opens(joinSealed(sealed_))); }

TEST_F(KeyringFileTamper, ReorderedChunksAreRefused) {
  SealedFile f = sealed_;
  std::swap(f.records[0], f.records[1]);
  EXPECT_FALSE(opens(joinSealed(f)));
}

TEST_F(KeyringFileTamper, DroppedChunkIsRefused) {
  SealedFile f = sealed_;
  f.records.erase(f.records.begin() + 1);
  EXPECT_FALSE(opens(joinSealed(f)));
  SealedFile last = sealed_;
  last.records.pop_back();  // ends on a chunk that is not the final one
  EXPECT_FALSE(opens(joinSealed(last)));
}

TEST_F(KeyringFileTamper, TruncationIsRefused) {
  const std::string whole = joinSealed(sealed_);
  EXPECT_FALSE(opens(whole.substr(0, whole.size() - 1)));
  EXPECT_FALSE(opens(whole.substr(0, 24)));
  EXPECT_FALSE(opens(whole.substr(0, 10)));
  EXPECT_FALSE(opens(whole + "x"));
}

TEST_F(KeyringFileTamper, FlippedByteAndForeignChunkAreRefused) {
  std::string whole = joinSealed(sealed_);
  whole[24 + 4 + 12 + 1000] = static_cast<char>(whole[24 + 4 + 12 + 1000] ^ 0x01);
  EXPECT_FALSE(opens(whole));
  std::string header = joinSealed(sealed_);
  header[20] = static_cast<char>(header[20] ^ 0x01);  // the file id
  EXPECT_FALSE(opens(header));
  // A chunk from another file sealed with the same key at the same index does not fit.
  ASSERT_TRUE(ring_.sealFile((dir_ / "in").string(), (dir_ / "sealed2").string(), "a").isOk());
  SealedFile other = splitSealed(readAll(dir_ / "sealed2"));
  SealedFile mixed = sealed_;
  mixed.records[2] = other.records[2];
  EXPECT_FALSE(opens(joinSealed(mixed)));
}

TEST_F(KeyringFileTamper, UnknownDataKeyIsNotFound) {
  Keyring other(testKek());
  other.newDataKey(2);
  const Status s = other.openFile((dir_ / "sealed").string(), (dir_ / "out").string(), "a");
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
}

TEST_F(KeyringFileTamper, OpenFileToHandsOverVerifiedChunksInOrder) {
  std::string joined;
  size_t pieces = 0;
  ASSERT_TRUE(ring_
                  .openFileTo((dir_ / "sealed").string(), "a",
                              [&](std::string_view chunk) {
                                joined.append(chunk);
                                ++pieces;
                                return true;
                              })
                  .isOk());
  EXPECT_EQ(pieces, 4u);
  EXPECT_TRUE(joined == readAll(dir_ / "in"));
  // A sink that stops ends the reading.
  EXPECT_EQ(
      ring_.openFileTo((dir_ / "sealed").string(), "a", [](std::string_view) { return false; })
          .code(),
      Status::Code::kIo);
}

TEST_F(KeyringFileTamper, SealStreamMatchesSealFile) {
  std::istringstream in(readAll(dir_ / "in"));
  ASSERT_TRUE(ring_.sealStream(in, (dir_ / "streamed").string(), "a").isOk());
  EXPECT_EQ(fs::file_size(dir_ / "streamed"), fs::file_size(dir_ / "sealed"));
  ASSERT_TRUE(ring_.openFile((dir_ / "streamed").string(), (dir_ / "out").string(), "a").isOk());
  EXPECT_TRUE(readAll(dir_ / "out") == readAll(dir_ / "in"));
  std::istringstream empty("");
  ASSERT_TRUE(ring_.sealStream(empty, (dir_ / "empty").string(), "a").isOk());
  ASSERT_TRUE(ring_.openFile((dir_ / "empty").string(), (dir_ / "out").string(), "a").isOk());
  EXPECT_EQ(fs::file_size(dir_ / "out"), 0u);
}

TEST_F(KeyringFileTamper, ResealFileMovesContentToTheNewDataKey) {
  EXPECT_EQ(Keyring::sealedFileKeyId((dir_ / "sealed").string()), std::optional<uint32_t>(1));
  ring_.newDataKey(2);
  ASSERT_TRUE(
      ring_.resealFile((dir_ / "sealed").string(), (dir_ / "resealed").string(), "a").isOk());
  EXPECT_EQ(Keyring::sealedFileKeyId((dir_ / "resealed").string()), std::optional<uint32_t>(2));
  ASSERT_TRUE(ring_.openFile((dir_ / "resealed").string(), (dir_ / "out").string(), "a").isOk());
  EXPECT_TRUE(readAll(dir_ / "out") == readAll(dir_ / "in"));
  EXPECT_EQ(Keyring::sealedFileKeyId((dir_ / "in").string()), std::nullopt);
  // A tampered source leaves no output behind.
  std::string bad = readAll(dir_ / "sealed");
  bad[bad.size() - 3] = static_cast<char>(bad[bad.size() - 3] ^ 0x01);
  writeAll(dir_ / "bad", bad);
  EXPECT_EQ(ring_.resealFile((dir_ / "bad").string(), (dir_ / "re2").string(), "a").code(),
            Status::Code::kInvalid);
  EXPECT_FALSE(fs::exists(dir_ / "re2"));
  EXPECT_EQ(ring_.dataKeyIds(), (std::vector<uint32_t>{1, 2}));
}

// ---- key files ----

class KeyFiles : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string dataDir() {
    fs::create_directories(dir_ / "data");
    return (dir_ / "data").string();
  }
};

TEST_F(KeyFiles, WriteNewKeyFileIs0600AndLoads) {
  const std::string path = (dir_ / "kek").string();
  ASSERT_TRUE(writeNewKeyFile(path).isOk());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string text = readAll(path);
  EXPECT_EQ(text.size(), 45u);  // 44 base64 characters and a newline
  const StatusOr<KeyEncryptionKey> kek = loadKeyFile(path, dataDir());
  ASSERT_TRUE(kek.isOk()) << kek.status().toString();
  EXPECT_EQ(kek->bytes.size(), 32u);
  EXPECT_EQ(kek->fingerprint.size(), 16u);
  EXPECT_EQ(kek->fingerprint, tokenDigest(kek->bytes).substr(0, 16));
}

TEST_F(KeyFiles, WriteNewKeyFileNeverOverwrites) {
  const std::string path = (dir_ / "kek").string();
  ASSERT_TRUE(writeNewKeyFile(path).isOk());
  const std::string before = readAll(path);
  EXPECT_FALSE(writeNewKeyFile(path).isOk());
  EXPECT_EQ(readAll(path), before);
  ASSERT_TRUE(writeNewKeyFile((dir_ / "kek2").string()).isOk());
  EXPECT_NE(readAll(dir_ / "kek2"), before);
}

TEST_F(KeyFiles, GroupOrOtherModeIsRefused) {
  const std::string path = (dir_ / "kek").string();
  ASSERT_TRUE(writeNewKeyFile(path).isOk());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const StatusOr<KeyEncryptionKey> kek = loadKeyFile(path, dataDir());
  ASSERT_FALSE(kek.isOk());
  EXPECT_EQ(kek.status().code(), Status::Code::kConfig);
  EXPECT_EQ(kek.status().location(), "security.key_file");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_FALSE(loadKeyFile(path, dataDir()).isOk());
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(loadKeyFile(path, dataDir()).isOk());
}

TEST_F(KeyFiles, InsideDataDirIsRefused) {
  const std::string data = dataDir();
  fs::create_directories(fs::path(data) / "keys");
  const std::string path = (fs::path(data) / "keys" / "kek").string();
  ASSERT_TRUE(writeNewKeyFile(path).isOk());
  const StatusOr<KeyEncryptionKey> kek = loadKeyFile(path, data);
  ASSERT_FALSE(kek.isOk());
  EXPECT_NE(kek.status().reason().find("data.dir"), std::string::npos);
  // Also through a relative spelling of the data directory and a symbolic link to the key.
  const std::string link = (dir_ / "link").string();
  fs::create_symlink(path, link);
  EXPECT_FALSE(loadKeyFile(link, data + "/").isOk());
  // A sibling directory whose name starts the same is not inside.
  fs::create_directories(dir_ / "data2");
  const std::string sibling = (dir_ / "data2" / "kek").string();
  ASSERT_TRUE(writeNewKeyFile(sibling).isOk());
  EXPECT_TRUE(loadKeyFile(sibling, data).isOk());
}

TEST_F(KeyFiles, ModeMessageNamesTheFileTheModeAndTheFix) {
  const std::string path = (dir_ / "kek").string();
  ASSERT_TRUE(writeNewKeyFile(path).isOk());
  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  const StatusOr<KeyEncryptionKey> kek = loadKeyFile(path, dataDir());
  ASSERT_FALSE(kek.isOk());
  EXPECT_NE(kek.status().reason().find(path + " is accessible by group or others (mode 0604"),
            std::string::npos)
      << kek.status().toString();
  EXPECT_NE(kek.status().reason().find("chmod 600 " + path), std::string::npos);
}

// A hard link is another name for the same file, which a comparison of paths cannot see: a second
// name inside data.dir would put the key beside the data (and into copies of the directory).
TEST_F(KeyFiles, AHardLinkedKeyFileIsRefusedWhereverTheOtherNameIs) {
  const std::string data = dataDir();
  const std::string path = (dir_ / "kek").string();
  ASSERT_TRUE(writeNewKeyFile(path).isOk());
  ASSERT_TRUE(loadKeyFile(path, data).isOk());
  const std::string inside = (fs::path(data) / "innocent.txt").string();
  ASSERT_EQ(::link(path.c_str(), inside.c_str()), 0);
  for (const std::string& name : {path, inside}) {
    const StatusOr<KeyEncryptionKey> kek = loadKeyFile(name, data, "security.previous_key_file");
    ASSERT_FALSE(kek.isOk()) << name;
    EXPECT_EQ(kek.status().code(), Status::Code::kConfig);
    EXPECT_EQ(kek.status().location(), "security.previous_key_file");
    EXPECT_NE(kek.status().reason().find(name + " has 2 hard links"), std::string::npos)
        << kek.status().toString();
    EXPECT_NE(kek.status().reason().find("find / -xdev -samefile " + name), std::string::npos)
        << kek.status().toString();
  }
  // With the other name gone, the key loads again.
  ASSERT_EQ(::unlink(inside.c_str()), 0);
  EXPECT_TRUE(loadKeyFile(path, data).isOk());
}

// Whoever owns the key file can read it or replace it (chmod is theirs): it must belong to the
// user reading it or to root.
TEST_F(KeyFiles, AKeyFileOwnedByAnotherUserIsRefusedNamingTheOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  const std::string path = (dir_ / "kek").string();
  ASSERT_TRUE(writeNewKeyFile(path).isOk());
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  const StatusOr<KeyEncryptionKey> kek = loadKeyFile(path, dataDir());
  ASSERT_FALSE(kek.isOk());
  EXPECT_EQ(kek.status().location(), "security.key_file");
  const std::string reason = kek.status().reason();
  EXPECT_NE(reason.find(path + " is owned by uid 65534"), std::string::npos) << reason;
  EXPECT_NE(reason.find("must be owned by root or by the user labgated runs as"), std::string::npos)
      << reason;
  EXPECT_NE(reason.find("chown root " + path), std::string::npos) << reason;
  // Owned by root (the user reading it here) it loads.
  ASSERT_EQ(::chown(path.c_str(), 0, 0), 0);
  EXPECT_TRUE(loadKeyFile(path, dataDir()).isOk());
}

TEST_F(KeyFiles, AFifoUnderTheKeyNameDoesNotBlock) {
  const std::string path = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const StatusOr<KeyEncryptionKey> kek = loadKeyFile(path, "");
  ASSERT_FALSE(kek.isOk());
  EXPECT_NE(kek.status().reason().find("not a regular file"), std::string::npos);
}

TEST_F(KeyFiles, WrongLengthOrNotBase64IsRefusedWithoutEchoingTheContent) {
  const std::string path = (dir_ / "kek").string();
  for (const std::string& text :
       {base64UrlEncode(randomBytes(31)), std::string("c2hvcnQ=\n"), std::string(""),
        std::string("not base64 at all, definitely not!!!!!!!!!!!\n"),
        std::string(44, 'A') + "AAAA\n"}) {
    fs::remove(path);
    writeAll(path, text);
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    const StatusOr<KeyEncryptionKey> kek =
        loadKeyFile(path, dataDir(), "security.previous_key_file");
    ASSERT_FALSE(kek.isOk()) << text;
    EXPECT_EQ(kek.status().location(), "security.previous_key_file");
    if (text.size() > 8) {
      EXPECT_EQ(kek.status().reason().find(text.substr(0, 8)), std::string::npos);
    }
  }
}

TEST_F(KeyFiles, MissingOrNotARegularFileIsRefused) {
  EXPECT_FALSE(loadKeyFile((dir_ / "none").string(), "").isOk());
  fs::create_directories(dir_ / "adir");
  ::chmod((dir_ / "adir").c_str(), 0700);
  EXPECT_FALSE(loadKeyFile((dir_ / "adir").string(), "").isOk());
}

// ---- private files and directories (posix_file.h) ----

mode_t modeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

/// Sets the process umask for the scope (the tests run with the caller's, often 022).
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

TEST(PrivateFiles, DirectoriesAreCreated0700WhateverTheUmask) {
  TempDir dir;
  ScopedUmask mask(022);
  const fs::path deep = dir / "a/b/c";
  EXPECT_EQ(createPrivateDirectories(deep.string()), "");
  for (const fs::path& p : {dir / "a", dir / "a/b", deep}) EXPECT_EQ(modeOf(p), 0700u) << p;
  // What exists is left alone; a file in the way is named.
  fs::create_directories(dir / "shared");
  ::chmod((dir / "shared").c_str(), 0755);
  EXPECT_EQ(createPrivateDirectories((dir / "shared").string()), "");
  EXPECT_EQ(modeOf(dir / "shared"), 0755u);
  writeAll(dir / "file", "x");
  const std::string error = createPrivateDirectories((dir / "file/sub").string());
  EXPECT_NE(error.find((dir / "file").string()), std::string::npos) << error;
}

TEST(PrivateFiles, AFileIsCreated0600AndAnOpenOneTightened) {
  TempDir dir;
  ScopedUmask mask(022);
  const fs::path fresh = dir / "fresh.db";
  PrivateFile made = ensurePrivateFile(fresh.string());
  EXPECT_EQ(made.error, "");
  EXPECT_EQ(made.notice, "");
  EXPECT_EQ(modeOf(fresh), 0600u);
  EXPECT_EQ(fs::file_size(fresh), 0u);
  const fs::path loose = dir / "loose.log";
  writeAll(loose, "kept");
  ASSERT_EQ(::chmod(loose.c_str(), 0664), 0);
  PrivateFile tightened = ensurePrivateFile(loose.string());
  EXPECT_EQ(tightened.error, "");
  EXPECT_NE(tightened.notice.find(loose.string() + " had mode 0664; set to 0600"),
            std::string::npos)
      << tightened.notice;
  EXPECT_EQ(modeOf(loose), 0600u);
  EXPECT_EQ(readAll(loose), "kept");
  fs::create_directories(dir / "adir");
  EXPECT_NE(ensurePrivateFile((dir / "adir").string()).error, "");
}

}  // namespace
}  // namespace labgate::security
