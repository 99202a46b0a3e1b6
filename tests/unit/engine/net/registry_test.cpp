// Tests for engine/net/registry: Registry::createSource() builds a message source's codec through
// the kind's CodecFactory and hands exactly that codec to the source, so the engine, `labgate
// dry-run` and `--check-config` parse with the same object built from the same keys.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/net/interfaces.h"

namespace labgate {
namespace {

/// A codec that remembers the key it was made from.
class TaggedCodec : public FormatCodec {
 public:
  explicit TaggedCodec(std::string tag) : tag_(std::move(tag)) {}
  StatusOr<Document> parse(std::string_view) const override {
    return Status::invalid("test", "not parsed");
  }
  StatusOr<Message> build(const Document&) const override {
    return Status::invalid("test", "not built");
  }
  const std::string& formatTag() const override { return tag_; }
  StatusOr<std::vector<std::string>> split(std::string_view) const override {
    return std::vector<std::string>{};
  }

 private:
  std::string tag_;
};

class NullSource : public Source {
 public:
  Status start() override { return Status::ok(); }
  void stop() override {}
  Poco::JSON::Object::Ptr health() const override { return new Poco::JSON::Object; }
};

struct Seen {
  int factoryCalls = 0;
  std::shared_ptr<const FormatCodec> codec;
};

Registry makeRegistry(Seen& seen) {
  Registry registry;
  SourceKind kind;
  kind.codec = [](const std::string& prefix,
                  const KeyValues& keys) -> StatusOr<std::shared_ptr<const FormatCodec>> {
    auto it = keys.find("fake.tag");
    if (it == keys.end()) return std::shared_ptr<const FormatCodec>();
    if (it->second == "bad") return Status::config(prefix + "fake.tag", "must not be bad");
    return std::shared_ptr<const FormatCodec>(std::make_shared<TaggedCodec>(it->second));
  };
  kind.factory = [&seen](const SourceContext& context) -> StatusOr<std::unique_ptr<Source>> {
    ++seen.factoryCalls;
    seen.codec = context.codec;
    return std::unique_ptr<Source>(new NullSource);
  };
  kind.formatTag = "fake";
  registry.addSource("fake-tcp", std::move(kind));

  SourceKind exports;  // no codec: the format is chosen per file
  exports.factory = [&seen](const SourceContext& context) -> StatusOr<std::unique_ptr<Source>> {
    ++seen.factoryCalls;
    seen.codec = context.codec;
    return std::unique_ptr<Source>(new NullSource);
  };
  registry.addSource("fake-drop", std::move(exports));
  return registry;
}

TEST(RegistryTest, CreateSourceHandsTheCodecBuiltFromTheConnectorsKeysToTheSource) {
  Seen seen;
  Registry registry = makeRegistry(seen);
  SourceContext context;
  context.name = "lab1";
  context.keys = {{"fake.tag", "from-keys"}, {"listen", "127.0.0.1:1"}};
  StatusOr<std::unique_ptr<Source>> source = registry.createSource("fake-tcp", context);
  ASSERT_TRUE(source.isOk()) << source.status().toString();
  EXPECT_EQ(seen.factoryCalls, 1);
  ASSERT_NE(seen.codec, nullptr);
  EXPECT_EQ(seen.codec->formatTag(), "from-keys");
}

TEST(RegistryTest, ACodecErrorNamesTheFullKeyAndNoSourceIsMade) {
  Seen seen;
  Registry registry = makeRegistry(seen);
  SourceContext context;
  context.name = "lab1";
  context.keys = {{"fake.tag", "bad"}};
  StatusOr<std::unique_ptr<Source>> source = registry.createSource("fake-tcp", context);
  ASSERT_FALSE(source.isOk());
  EXPECT_EQ(source.status().code(), Status::Code::kConfig);
  EXPECT_EQ(source.status().toString(), "connector.lab1.fake.tag: must not be bad");
  EXPECT_EQ(seen.factoryCalls, 0);
}

TEST(RegistryTest, ExportSourcesGetNoCodec) {
  Seen seen;
  Registry registry = makeRegistry(seen);
  SourceContext context;
  context.name = "drop";
  StatusOr<std::unique_ptr<Source>> source = registry.createSource("fake-drop", context);
  ASSERT_TRUE(source.isOk()) << source.status().toString();
  EXPECT_EQ(seen.factoryCalls, 1);
  EXPECT_EQ(seen.codec, nullptr);
}

TEST(RegistryTest, AnUnknownKindNamesTheKeyAndTheKnownKinds) {
  Seen seen;
  Registry registry = makeRegistry(seen);
  SourceContext context;
  context.name = "lab1";
  StatusOr<std::unique_ptr<Source>> source = registry.createSource("serial", context);
  ASSERT_FALSE(source.isOk());
  EXPECT_EQ(source.status().toString(),
            "connector.lab1.kind: unknown kind \"serial\" (known: fake-drop, fake-tcp)");
  EXPECT_EQ(seen.factoryCalls, 0);
}

}  // namespace
}  // namespace labgate
