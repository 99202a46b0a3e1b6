// Runs the shipped config/phi-patterns.json over the shared instrument corpus (ASTM and HL7) and
// checks an explicit outcome table: which files are refused, at which locations, by which rule, and
// which pass clean. Failure messages print locations and rule ids only, never field values.
// Skips itself when the shared corpus is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "engine/phi/phi_gate.h"
#include "tests/unit/engine/phi/phi_test_support.h"

namespace labgate::phi {
namespace {

namespace fs = std::filesystem;
using testing::astmDocument;
using testing::hl7Document;
using testing::readFile;

using Outcome = std::set<std::string>;  // distinct "LOC=rule id"; empty = clean

std::string joined(const Outcome& outcome) {
  std::string out;
  for (const std::string& item : outcome) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "(clean)" : out;
}

Outcome distinctHits(const Screening& screening) {
  Outcome out;
  for (const Hit& hit : screening.hits) out.insert(hit.location + "=" + hit.patternId);
  return out;
}

const PhiGate& shippedGate() {
  static const PhiGate gate = [] {
    auto loaded = PhiGate::loadFile(std::string(LABGATE_SOURCE_DIR) + "/config/phi-patterns.json");
    EXPECT_TRUE(loaded.isOk()) << loaded.status().toString();
    return loaded.isOk() ? loaded.value() : PhiGate();
  }();
  return gate;
}

// Every ASTM corpus file, with what the shipped rules must find in it.
const std::map<std::string, Outcome>& astmTable() {
  static const std::map<std::string, Outcome> table = {
      // lab patient id in P-4
      {"abbott_afinion2_hba1c_singleframe.astm", {"P-4=structural.P-4"}},
      // no P record; sample id, collection dates
      {"arkray_spotchem_el_MOCK.astm", {}},
      // a (mock) name in P-6
      {"biomerieux_minividas_MOCK_double_backslash.astm", {"P-6=structural.P-6"}},
      // id, name, birth date; reagent lots/expiry in C records pass
      {"biorad_ihcom_bloodtype_LF.astm",
       {"P-4=structural.P-4", "P-6=structural.P-6", "P-8=structural.P-8"}},
      // both patients: id, name, birth date
      {"biorad_ihcom_bloodtype_two_patients_LF.astm",
       {"P-4=structural.P-4", "P-6=structural.P-6", "P-8=structural.P-8"}},
      // empty P; free-text note with 'Id# <number>' and a name
      {"cepheid_genexpert_custom_delims.astm", {"C-4=mrn.context"}},
      // lab patient ids in P-4 of all 20 P records
      {"euroimmun_analyzer1_multi_patient_LF.astm", {"P-4=structural.P-4"}},
      // name and birth date
      {"horiba_pentra_xlr_fn_wrap_patient.astm", {"P-6=structural.P-6", "P-8=structural.P-8"}},
      // QC run: empty P, base64 M records, reagent lots
      {"horiba_yumizen_h500_qc_base64_M.astm", {}},
      // QC run, reference ranges
      {"horiba_yumizen_h550_qc_double_backslash_LF.astm", {}},
      // id, name, birth date
      {"immucor_galileo_echo_order_from_lis_LF.astm",
       {"P-3=structural.P-3", "P-6=structural.P-6", "P-8=structural.P-8"}},
      // id, name, birth date; operator ids pass
      {"immucor_galileo_echo_result_LF.astm",
       {"P-3=structural.P-3", "P-6=structural.P-6", "P-8=structural.P-8"}},
      // the E1394 example patient: ids, name, maiden name, DOB
      {"ortho_vision_with_comment_header.txt",
       {"P-3=structural.P-3", "P-5=structural.P-5", "P-6=structural.P-6", "P-7=structural.P-7",
        "P-8=structural.P-8"}},
      // empty P, M record
      {"roche_cobas_c111_etb_multiframe.astm", {}},
      // empty P
      {"roche_cobas_c311_singleframe_624B.astm", {}},
      // patient ids in P-3 (names empty)
      {"roche_psm_middleware_fn_prefixed_LF.astm", {"P-3=structural.P-3"}},
      // patient id in P-3
      {"siemens_dca_vantage_singleframe.astm", {"P-3=structural.P-3"}},
      // id, name, birth date; physician in P-14 passes
      {"sysmex_xn550_singleframe_patient.astm",
       {"P-5=structural.P-5", "P-6=structural.P-6", "P-8=structural.P-8"}},
      // no patient data
      {"sysmex_xp100_singleframe_padded_values.astm", {}},
      // P-8 holds the 18991230 null date (placeholder); host IP in H-10
      {"thermo_phadia_prime_with_comment_header.txt", {}},
  };
  return table;
}

// Every HL7 corpus file, with what the shipped rules must find in it.
const std::map<std::string, Outcome>& hl7Table() {
  static const std::map<std::string, Outcome> table = {
      {"athena_lri_oru_nte_tq1_LF.hl7",
       {"PID-11=structural.PID-11", "PID-3=structural.PID-3", "PID-5=structural.PID-5",
        "PID-7=structural.PID-7"}},
      {"batch_fhs_bhs_two_messages_LF.hl7",
       {"PID-11=structural.PID-11", "PID-12=structural.PID-12", "PID-13=structural.PID-13",
        "PID-14=structural.PID-14", "PID-18=structural.PID-18", "PID-19=structural.PID-19",
        "PID-2=structural.PID-2", "PID-3=structural.PID-3", "PID-5=structural.PID-5",
        "PID-7=structural.PID-7", "ROL-11=address.street"}},
      {"cerner_healthsentry_oru_lead_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-19=structural.PID-19",
        "PID-3=structural.PID-3", "PID-4=structural.PID-4", "PID-5=structural.PID-5",
        "PID-7=structural.PID-7"}},
      {"cerner_healthsentry_oru_pertussis_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-19=structural.PID-19",
        "PID-3=structural.PID-3", "PID-4=structural.PID-4", "PID-5=structural.PID-5",
        "PID-7=structural.PID-7"}},
      {"elr_realm_animal_rabies_CR.hl7",
       {"NK1-2=structural.NK1-2", "NK1-4=structural.NK1-4", "NK1-5=structural.NK1-5",
        "PID-29=structural.PID-29", "PID-3=structural.PID-3", "PID-5=structural.PID-5",
        "PID-7=structural.PID-7"}},
      {"elr_realm_campylobacter_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-14=structural.PID-14",
        "PID-3=structural.PID-3", "PID-5=structural.PID-5", "PID-6=structural.PID-6",
        "PID-7=structural.PID-7"}},
      {"elr_realm_hepatitis_c_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-14=structural.PID-14",
        "PID-3=structural.PID-3", "PID-5=structural.PID-5", "PID-6=structural.PID-6",
        "PID-7=structural.PID-7"}},
      {"elr_realm_two_orders_joeslab_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-14=structural.PID-14",
        "PID-3=structural.PID-3", "PID-5=structural.PID-5", "PID-6=structural.PID-6",
        "PID-7=structural.PID-7"}},
      // every PID/NK1/GT1/IN1/IN2 identifier plus free-text hits
      {"fhirconv_adt_a01_phi_rich_LF.hl7",
       {"GT1-12=structural.GT1-12",
        "GT1-17=address.street",
        "GT1-19=structural.GT1-19",
        "GT1-2=structural.GT1-2",
        "GT1-3=structural.GT1-3",
        "GT1-4=structural.GT1-4",
        "GT1-5=structural.GT1-5",
        "GT1-6=structural.GT1-6",
        "GT1-7=structural.GT1-7",
        "GT1-8=structural.GT1-8",
        "IN1-16=structural.IN1-16",
        "IN1-18=structural.IN1-18",
        "IN1-19=structural.IN1-19",
        "IN1-36=structural.IN1-36",
        "IN1-44=address.street",
        "IN1-49=structural.IN1-49",
        "IN1-5=address.street",
        "IN1-7=phone.nanp",
        "IN2-1=structural.IN2-1",
        "IN2-2=structural.IN2-2",
        "IN2-6=structural.IN2-6",
        "IN2-8=structural.IN2-8",
        "NK1-2=structural.NK1-2",
        "NK1-30=structural.NK1-30",
        "NK1-31=structural.NK1-31",
        "NK1-32=structural.NK1-32",
        "NK1-33=structural.NK1-33",
        "NK1-37=structural.NK1-37",
        "NK1-4=structural.NK1-4",
        "NK1-5=structural.NK1-5",
        "NK1-6=structural.NK1-6",
        "PID-11=structural.PID-11",
        "PID-12=structural.PID-12",
        "PID-13=structural.PID-13",
        "PID-14=structural.PID-14",
        "PID-18=structural.PID-18",
        "PID-19=structural.PID-19",
        "PID-20=structural.PID-20",
        "PID-21=structural.PID-21",
        "PID-23=structural.PID-23",
        "PID-29=structural.PID-29",
        "PID-2=structural.PID-2",
        "PID-3=structural.PID-3",
        "PID-4=structural.PID-4",
        "PID-5=structural.PID-5",
        "PID-6=structural.PID-6",
        "PID-7=structural.PID-7",
        "PID-9=structural.PID-9",
        "PV1-19=structural.PV1-19",
        "PV1-50=structural.PV1-50",
        "RF1-20=name.title",
        "ROL-11=address.street",
        "ROL-12=email"}},
      // also an image URL in OBX-5 and a contact phone
      {"fhirconv_elr_oru_251_prt_LF.hl7",
       {"CTD-5=phone.nanp", "NTE-5=name.title", "OBX-5=url", "PID-11=structural.PID-11",
        "PID-3=structural.PID-3", "PID-5=structural.PID-5", "PID-7=structural.PID-7",
        "PRT-14=address.street", "PV1-19=structural.PV1-19", "PV1-50=structural.PV1-50"}},
      {"fhirconv_lab_orm_o01_bom_LF.hl7",
       {"PID-11=structural.PID-11", "PID-12=structural.PID-12", "PID-13=structural.PID-13",
        "PID-14=structural.PID-14", "PID-18=structural.PID-18", "PID-19=structural.PID-19",
        "PID-3=structural.PID-3", "PID-5=structural.PID-5", "PID-7=structural.PID-7",
        "PV1-19=structural.PV1-19"}},
      {"fhirconv_lab_oru_bom_pending_results_LF.hl7",
       {"PID-11=structural.PID-11", "PID-12=structural.PID-12", "PID-13=structural.PID-13",
        "PID-14=structural.PID-14", "PID-18=structural.PID-18", "PID-19=structural.PID-19",
        "PID-3=structural.PID-3", "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
      {"fhirconv_nist_lri_cbc_bom_LF.hl7",
       {"PID-3=structural.PID-3", "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
      // also a slide URL in OBX-5
      {"fhirconv_oul_r22_escape_T_LF.hl7",
       {"OBX-5=url", "PID-11=structural.PID-11", "PID-13=structural.PID-13",
        "PID-19=structural.PID-19", "PID-3=structural.PID-3", "PID-4=structural.PID-4",
        "PID-5=structural.PID-5", "PID-7=structural.PID-7", "PRT-14=address.street"}},
      // also SSN-shaped ids in OBR-31 and in the ordering provider's id (OBR-16: provider fields
      // are exempt from name patterns only, still screened for SSNs, phones, e-mail, birth dates)
      {"hl7spec_glucose_oru_sn_value_LF.hl7",
       {"OBR-16=ssn.delimited", "OBR-31=ssn.delimited", "PID-11=structural.PID-11",
        "PID-13=structural.PID-13", "PID-14=structural.PID-14", "PID-18=structural.PID-18",
        "PID-20=structural.PID-20", "PID-3=structural.PID-3", "PID-5=structural.PID-5",
        "PID-6=structural.PID-6", "PID-7=structural.PID-7"}},
      {"invalid_siu_bad_phone_LF.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-19=structural.PID-19",
        "PID-2=structural.PID-2", "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
      {"lfh_adt_crlf_malformed_msh2.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-18=structural.PID-18",
        "PID-19=structural.PID-19", "PID-23=structural.PID-23", "PID-3=structural.PID-3",
        "PID-5=structural.PID-5", "PID-7=structural.PID-7", "PV1-19=structural.PV1-19"}},
      // also 'MRN: ...' in an NTE
      {"lfh_oru_26_multiline_text_LF.hl7",
       {"NTE-3=mrn.context", "PID-11=structural.PID-11", "PID-13=structural.PID-13",
        "PID-18=structural.PID-18", "PID-3=structural.PID-3", "PID-5=structural.PID-5",
        "PID-7=structural.PID-7", "PV1-19=structural.PV1-19"}},
      {"nist_elr_oru_r01_251_case1_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-3=structural.PID-3",
        "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
      {"nist_elr_oru_r01_251_case2_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-3=structural.PID-3",
        "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
      {"nist_elr_oru_r01_251_case3_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-3=structural.PID-3",
        "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
      {"nist_elr_oru_r01_251_case4_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-3=structural.PID-3",
        "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
      {"nist_elr_oru_r01_251_case5_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-3=structural.PID-3",
        "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
      {"nist_elr_oru_r01_251_case6_CR.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-3=structural.PID-3",
        "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
      {"olis_erp_z99_chem_zsegments_LF.hl7",
       {"PID-11=structural.PID-11", "PID-13=structural.PID-13", "PID-14=structural.PID-14",
        "PID-3=structural.PID-3", "PID-5=structural.PID-5", "PID-7=structural.PID-7"}},
  };
  return table;
}

bool skippedAstm(const std::string& name) {
  return name.find("NOT_ASTM") != std::string::npos || name.rfind("fragment_", 0) == 0;
}

void checkCorpus(const std::string& dir, const std::map<std::string, Outcome>& table, bool hl7) {
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no shared corpus at " << dir;
  std::set<std::string> seen;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (hl7 ? entry.path().extension() != ".hl7" : skippedAstm(name)) continue;
    seen.insert(name);
    std::string bytes = readFile(entry.path().string());
    Document document = hl7 ? hl7Document(bytes) : astmDocument(bytes);
    Outcome actual = distinctHits(shippedGate().screen(document, Policy::kRefuse));
    auto expected = table.find(name);
    if (expected == table.end()) {
      ADD_FAILURE() << name << ": not in the outcome table; screening found: " << joined(actual);
      continue;
    }
    EXPECT_EQ(joined(expected->second), joined(actual)) << name;
  }
  for (const auto& [name, outcome] : table) {
    EXPECT_TRUE(seen.count(name)) << name << ": in the table but not in the corpus";
  }
}

TEST(PhiCorpus, ShippedPatternFileLoads) {
  EXPECT_GT(shippedGate().patternCount(), 10u);
  EXPECT_GT(shippedGate().structuralCount(), 20u);
}

TEST(PhiCorpus, AstmFilesMatchTheOutcomeTable) {
  checkCorpus(std::string(LABGATE_SHARED_DIR) + "/corpus/astm", astmTable(), false);
}

TEST(PhiCorpus, Hl7FilesMatchTheOutcomeTable) {
  checkCorpus(std::string(LABGATE_SHARED_DIR) + "/corpus/hl7", hl7Table(), true);
}

}  // namespace
}  // namespace labgate::phi
