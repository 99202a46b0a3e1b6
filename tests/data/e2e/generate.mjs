// Writes the browser tests' made-up LC-MS/MS batches (SCIEX MultiQuant results tables,
// tab-delimited, one row per injection and component). Run `node generate.mjs` here after a
// change; the files are committed. Nothing here comes from a real laboratory or patient.
//
// history-1..4.txt: earlier batches of the same instrument (calibrators and QC only): the QC
// history the Levey-Jennings charts show. held.txt: the batch the tests review: a 6-point curve
// per analyte (Cortisol's 10 ng/mL calibrator left out of the curve by the analyst, "Used"
// False), three QC levels twice, a blank, and three patient samples; E2E-0003's Cortisol is above
// the critical limit of rules.json and holds, every other patient result is released.
import { writeFileSync } from "node:fs";

const kAnalytes = [
  { name: "Cortisol", is: "Cortisol-d4", rt: 3.42, isRt: 3.41, slope: 0.0102, intercept: 0.0004 },
  { name: "Cortisone", is: "Cortisone-d8", rt: 2.96, isRt: 2.95, slope: 0.0087, intercept: 0.0003 },
];
const kCalibrators = [1, 2, 5, 10, 50, 100];
const kQcNominals = [3, 30, 80];
// The QC targets of rules.json: mean = nominal, SD = 4 % of it.
const sdOf = (nominal) => nominal * 0.04;
// z-scores per batch (history 1-4, then the held batch), per QC level, replicate 1 and 2. The held
// batch's QC 30 replicate 1 of Cortisol is +2.3 SD: a 1_2s warning, which holds nothing.
const kZ = [
  [[-0.4, 0.3], [0.6, -0.5], [-0.2, 0.7]],
  [[0.8, -0.3], [-0.7, 0.2], [0.4, -0.6]],
  [[-0.9, 0.5], [0.3, -0.4], [-0.5, 0.2]],
  [[0.2, -0.7], [-0.3, 0.9], [0.6, -0.1]],
  [[0.5, -0.2], [2.3, -0.4], [-0.3, 0.4]],
];
// Small deterministic deviations of the calibrators' responses (fraction), per batch.
const kCalNoise = [0.02, -0.015, 0.01, -0.02, 0.015, -0.01];
const kIsAreas = [512300, 498700, 505100, 520400, 493800, 508900, 501200, 515600, 497300, 510800,
  503900, 499400, 507700, 494600, 511900, 502500];

const header = [
  "Sample Name", "Sample ID", "Sample Type", "Component Name", "IS Name", "Actual Concentration",
  "Calculated Concentration", "Concentration Units", "Accuracy", "Area", "IS Area", "Area Ratio",
  "Retention Time", "Expected RT", "IS Retention Time", "Signal / Noise", "Width at 50%",
  "Asymmetry Factor", "Used", "Acquisition Date",
];

const fmt = (x, digits) => (x === null ? "N/A" : x.toFixed(digits));

function acquired(day, index) {
  const minutes = 8 * 60 + 5 + index * 9;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const h12 = h > 12 ? h - 12 : h;
  return `12/${day}/2026 ${h12}:${String(m).padStart(2, "0")}:00 ${h >= 12 ? "PM" : "AM"}`;
}

/** One batch: the injections in run order, each {name, id, type, nominal, conc per analyte}. */
function injections(batch, withPatients) {
  const list = [{ name: "Blank 1", type: "Blank", nominal: null, conc: () => null }];
  kCalibrators.forEach((x, i) =>
    list.push({ name: `Cal ${i + 1}`, type: "Standard", nominal: x, calIndex: i,
      conc: () => x * (1 + kCalNoise[(i + batch) % kCalNoise.length]) }));
  list.push({ name: "Blank 2", type: "Blank", nominal: null, conc: () => null });
  const qc = (rep) =>
    kQcNominals.forEach((x, level) =>
      list.push({ name: `QC ${["Low", "Mid", "High"][level]} ${rep + 1}`, type: "Quality Control",
        nominal: x, conc: (a) => {
          const z = kZ[batch][level][rep] * (a === 0 ? 1 : -0.8);
          return x + z * sdOf(x);
        } }));
  qc(0);
  if (withPatients) {
    const values = [[12.4, 3.12], [25.7, 5.61], [68.9, 8.24]];
    values.forEach((v, i) =>
      list.push({ name: `E2E-000${i + 1}`, id: `E2E-000${i + 1}`, type: "Unknown", nominal: null,
        conc: (a) => v[a] }));
  }
  qc(1);
  return list;
}

/** The 1/x²-weighted least-squares line through the used calibrators: {slope, intercept}. */
function fit(points) {
  let sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const { x, y } of points) {
    const w = 1 / (x * x);
    sw += w; sx += w * x; sy += w * y; sxx += w * x * x; sxy += w * x * y;
  }
  const slope = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
  return { slope, intercept: (sy - slope * sx) / sw };
}

function batchText(batch, day, withPatients) {
  const list = injections(batch, withPatients);
  // Pass 1: each injection's response ratio per analyte; the calibrators' from the true line with
  // their small deviations, the rest from the fitted line, so that the vendor's calculated
  // concentration (from the fit) is the value wanted.
  const curves = kAnalytes.map((a, ai) => {
    const slope = a.slope * (1 + 0.01 * batch);
    const points = [];
    for (const inj of list) {
      if (inj.type !== "Standard") continue;
      let conc = inj.conc(ai);
      inj.used = inj.used ?? [];
      inj.used[ai] = true;
      // The analyst left Cortisol's 10 ng/mL calibrator out of the curve: its response is off.
      if (withPatients && ai === 0 && inj.calIndex === 3) {
        conc = inj.nominal * 1.31;
        inj.used[ai] = false;
      }
      inj.ratio = inj.ratio ?? [];
      inj.ratio[ai] = a.intercept + slope * conc;
      if (inj.used[ai]) points.push({ x: inj.nominal, y: inj.ratio[ai] });
    }
    return fit(points);
  });
  const rows = [header.join("\t")];
  list.forEach((inj, index) => {
    const isArea = kIsAreas[index % kIsAreas.length] * (1 + 0.01 * batch);
    const when = acquired(day, index);
    kAnalytes.forEach((a, ai) => {
      const curve = curves[ai];
      let ratio;
      if (inj.type === "Standard") ratio = inj.ratio[ai];
      else if (inj.type === "Blank") ratio = 0.00002;
      else ratio = curve.intercept + curve.slope * inj.conc(ai);
      const blank = inj.type === "Blank";
      const area = ratio * isArea;
      const calculated = blank ? null : (ratio - curve.intercept) / curve.slope;
      const accuracy = inj.nominal === null || calculated === null ? null
        : (calculated / inj.nominal) * 100;
      const used = inj.type === "Standard" ? (inj.used[ai] ? "True" : "False") : "";
      rows.push([
        inj.name, inj.id ?? "", inj.type, a.name, a.is, fmt(inj.nominal, 2),
        blank ? "No Peak" : fmt(calculated, 3), "ng/mL", fmt(accuracy, 1),
        fmt(area, 0), fmt(isArea, 0), fmt(ratio, 6),
        blank ? "N/A" : fmt(a.rt + 0.002 * (index % 3), 3), fmt(a.rt, 2),
        fmt(a.isRt, 2), blank ? "N/A" : fmt(40 + calculated * 12, 1), "0.052", "1.08", used,
        when,
      ].join("\t"));
      rows.push([
        inj.name, inj.id ?? "", inj.type, a.is, "N/A", "N/A", "N/A", "ng/mL", "N/A",
        fmt(isArea, 0), "N/A", "N/A", fmt(a.isRt, 2), fmt(a.isRt, 2), "N/A", "310.5", "0.050",
        "1.04", "", when,
      ].join("\t"));
    });
  });
  return rows.join("\r\n") + "\r\n";
}

for (let b = 0; b < 4; ++b) writeFileSync(`history-${b + 1}.txt`, batchText(b, 1 + b, false));
writeFileSync("held.txt", batchText(4, 5, true));

// What the browser tests expect to see drawn from these files (counts per analyte).
const expected = {
  history_files: ["history-1.txt", "history-2.txt", "history-3.txt", "history-4.txt"],
  held_file: "held.txt",
  analytes: kAnalytes.map((a) => a.name),
  internal_standards: Object.fromEntries(kAnalytes.map((a) => [a.name, a.is])),
  calibrators: kCalibrators.length,
  excluded_calibrators: { Cortisol: 1, Cortisone: 0 },
  qc_levels: kQcNominals.map((x) => `QC ${x} ng/mL`),
  qc_per_level_per_batch: 2,
  injections: injections(4, true).length,
  patients: ["E2E-0001", "E2E-0002", "E2E-0003"],
  held_result: { sample: "E2E-0003", analyte: "Cortisol", lis_code: "2143-6", value: "68.9" },
  westgard_warning: { analyte: "Cortisol", level: "QC 30 ng/mL", rule: "1_2s" },
};
writeFileSync("expected.json", JSON.stringify(expected, null, 2) + "\n");
