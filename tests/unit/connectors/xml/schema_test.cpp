// Optional XSD validation (connectors/xml/schema.cpp): loading at start-up, validating each file,
// and messages that name markup but never a value.
#include "connectors/xml/schema.h"

#include <gtest/gtest.h>

#include "connectors/xml/formats.h"
#include "tests/unit/connectors/xml/export_loop.h"

namespace labgate::xml {
namespace {

using testing::makeFormat;
using testing::runExport;
using testing::testData;

const std::map<std::string, std::string> kLayoutWithSchema = {{"layout", "lab_batch_layout.json"},
                                                              {"xml.schema", "lab_batch.xsd"}};

TEST(XmlSchema, ValidFilePasses) {
  auto format = makeFormat(xmlLayoutFormat(), kLayoutWithSchema);
  ASSERT_TRUE(format.isOk()) << format.status().toString();
  auto message = runExport(*format.value(), testData("lab_batch.xml"));
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  EXPECT_EQ(message->samples.size(), 2u);
}

TEST(XmlSchema, InvalidFileIsRefusedWithLineAndWithoutTheValue) {
  auto format = makeFormat(xmlLayoutFormat(), kLayoutWithSchema);
  ASSERT_TRUE(format.isOk()) << format.status().toString();
  auto message = runExport(*format.value(), testData("lab_batch_invalid.xml"));
  ASSERT_FALSE(message.isOk());
  EXPECT_EQ(message.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(message.status().location(), "line 3");
  EXPECT_EQ(message.status().reason(),
            "not valid against the schema: Element 'Injection', attribute 'volume': a value is not "
            "a valid value of the atomic type 'xs:decimal'");
  EXPECT_EQ(message.status().toString().find("SMITHJOHN"), std::string::npos);
}

TEST(XmlSchema, StructuralErrorsNameElementsAndAttributes) {
  auto format = makeFormat(xmlLayoutFormat(), kLayoutWithSchema);
  ASSERT_TRUE(format.isOk());
  auto extra = runExport(*format.value(),
                         "<Batch>\n<Injection kind=\"x\" secret=\"Jane\"><SampleName>A</SampleName>"
                         "</Injection></Batch>");
  ASSERT_FALSE(extra.isOk());
  EXPECT_EQ(extra.status().toString(),
            "line 2: not valid against the schema: Element 'Injection', attribute 'secret': The "
            "attribute 'secret' is not allowed");
  auto apostrophe = runExport(*format.value(),
                              "<Batch><Injection kind=\"x\" volume=\"O'Brien\"><SampleName>A"
                              "</SampleName></Injection></Batch>");
  ASSERT_FALSE(apostrophe.isOk());
  EXPECT_EQ(apostrophe.status().reason(),
            "not valid against the schema: Element 'Injection', attribute 'volume': a value is not "
            "a valid value of the atomic type 'xs:decimal'");
  auto missing = runExport(*format.value(),
                           "<Batch>\n\n<Injection><SampleName>A</SampleName>"
                           "</Injection></Batch>");
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().location(), "line 3");
  EXPECT_NE(missing.status().reason().find("'kind' is required"), std::string::npos);
}

TEST(XmlSchema, SchemaThatDoesNotLoadIsAConfigErrorNamingTheKey) {
  auto absent = makeFormat(targetlynxXmlFormat(), {{"xml.schema", "no_such.xsd"}});
  ASSERT_FALSE(absent.isOk());
  EXPECT_EQ(absent.status().code(), Status::Code::kConfig);
  EXPECT_EQ(absent.status().location(), "connector.lcms1.xml.schema");
  auto broken = makeFormat(targetlynxXmlFormat(), {{"xml.schema", "bad_schema.xsd"}});
  ASSERT_FALSE(broken.isOk());
  EXPECT_EQ(broken.status().location(), "connector.lcms1.xml.schema");
  EXPECT_NE(broken.status().reason().find("bad_schema.xsd"), std::string::npos);
  EXPECT_NE(broken.status().reason().find("noSuchType"), std::string::npos)
      << broken.status().reason();
  auto notXml = makeFormat(targetlynxXmlFormat(), {{"xml.schema", "lab_batch_layout.json"}});
  ASSERT_FALSE(notXml.isOk());
  EXPECT_EQ(notXml.status().code(), Status::Code::kConfig);
}

TEST(XmlSchema, MessagesLoseQuotedValues) {
  EXPECT_EQ(
      sanitizeLibxmlMessage("Element 'PEAK', attribute 'area': 'John' is not a valid value of "
                            "the atomic type 'xs:decimal'.\n"),
      "Element 'PEAK', attribute 'area': a value is not a valid value of the atomic type "
      "'xs:decimal'");
  EXPECT_EQ(sanitizeLibxmlMessage("Element 'T': [facet 'enumeration'] The value 'Doe' is not an "
                                  "element of the set {'QC', 'Blank'}.\n"),
            "Element 'T': [facet 'enumeration'] The value is not an element of the set");
  EXPECT_EQ(sanitizeLibxmlMessage("Element 'k': Duplicate key-sequence ['Roe'] in unique "
                                  "identity-constraint 'u'."),
            "Element 'k': Duplicate key-sequence [a value] in unique identity-constraint 'u'");
  EXPECT_EQ(
      sanitizeLibxmlMessage("Element 'X': This element is not expected. Expected is ( Y ).\n"),
      "Element 'X': This element is not expected. Expected is ( Y )");
}

}  // namespace
}  // namespace labgate::xml
