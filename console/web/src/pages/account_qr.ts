// A QR code of the TOTP provisioning address (ISO/IEC 18004), drawn as SVG by our own code so the
// enrolment needs no library and nothing from elsewhere: byte mode, error correction level M,
// versions 1 to 15 (up to 412 bytes; an otpauth URI is about 100 to 250). The address is shown as
// text beside it as well, for apps that cannot scan.
import { svg } from "../lib/dom";

/// Level M per version 1..15: EC codewords per block, then [blocks, data codewords] per group.
const BLOCKS_M: Array<[number, Array<[number, number]>]> = [
  [10, [[1, 16]]],
  [16, [[1, 28]]],
  [26, [[1, 44]]],
  [18, [[2, 32]]],
  [24, [[2, 43]]],
  [16, [[4, 27]]],
  [18, [[4, 31]]],
  [22, [[2, 38], [2, 39]]],
  [22, [[3, 36], [2, 37]]],
  [26, [[4, 43], [1, 44]]],
  [30, [[1, 50], [4, 51]]],
  [22, [[6, 36], [2, 37]]],
  [22, [[8, 37], [1, 38]]],
  [24, [[4, 40], [5, 41]]],
  [24, [[5, 41], [5, 42]]],
];

/// Centre rows/columns of the alignment patterns per version 2..15.
const ALIGNMENT: number[][] = [
  [],
  [6, 18],
  [6, 22],
  [6, 26],
  [6, 30],
  [6, 34],
  [6, 22, 38],
  [6, 24, 42],
  [6, 26, 46],
  [6, 28, 50],
  [6, 30, 54],
  [6, 32, 58],
  [6, 34, 62],
  [6, 26, 46, 66],
  [6, 26, 48, 70],
];

function dataCapacity(version: number): number {
  return BLOCKS_M[version - 1][1].reduce((sum, [n, k]) => sum + n * k, 0);
}

// ---- Reed-Solomon over GF(256), polynomial x^8 + x^4 + x^3 + x^2 + 1 -------------------------

function gfMultiply(a: number, b: number): number {
  let product = 0;
  for (let i = 7; i >= 0; i--) {
    product = (product << 1) ^ ((product >>> 7) * 0x11d);
    if ((b >>> i) & 1) product ^= a;
  }
  return product & 0xff;
}

/// The generator polynomial's coefficients (highest degree first, the leading 1 left out).
function generator(degree: number): number[] {
  const poly = new Array<number>(degree).fill(0);
  poly[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      poly[j] = gfMultiply(poly[j], root);
      if (j + 1 < degree) poly[j] ^= poly[j + 1];
    }
    root = gfMultiply(root, 2);
  }
  return poly;
}

function errorCorrection(data: number[], gen: number[]): number[] {
  const rest = new Array<number>(gen.length).fill(0);
  for (const byte of data) {
    const factor = byte ^ (rest.shift() as number);
    rest.push(0);
    gen.forEach((coefficient, i) => (rest[i] ^= gfMultiply(coefficient, factor)));
  }
  return rest;
}

// ---- codewords ----------------------------------------------------------------------------------

function dataCodewords(bytes: Uint8Array, version: number): number[] {
  const capacityBits = dataCapacity(version) * 8;
  const bits: number[] = [];
  const put = (value: number, length: number) => {
    for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  put(0b0100, 4); // byte mode
  put(bytes.length, version < 10 ? 8 : 16);
  bytes.forEach((b) => put(b, 8));
  put(0, Math.min(4, capacityBits - bits.length)); // terminator
  while (bits.length % 8) bits.push(0);
  const out: number[] = [];
  for (let i = 0; i < bits.length; i += 8) out.push(bits.slice(i, i + 8).reduce((v, b) => (v << 1) | b, 0));
  for (let pad = 0xec; out.length < capacityBits / 8; pad ^= 0xec ^ 0x11) out.push(pad);
  return out;
}

/// Data split into blocks, each with its error correction, interleaved as the symbol holds them.
function interleaved(data: number[], version: number): number[] {
  const [ecLength, groups] = BLOCKS_M[version - 1];
  const gen = generator(ecLength);
  const blocks: number[][] = [];
  let at = 0;
  for (const [count, length] of groups) {
    for (let i = 0; i < count; i++) {
      blocks.push(data.slice(at, at + length));
      at += length;
    }
  }
  const ec = blocks.map((b) => errorCorrection(b, gen));
  const out: number[] = [];
  const longest = Math.max(...blocks.map((b) => b.length));
  for (let i = 0; i < longest; i++) blocks.forEach((b) => i < b.length && out.push(b[i]));
  for (let i = 0; i < ecLength; i++) ec.forEach((e) => out.push(e[i]));
  return out;
}

// ---- the symbol ---------------------------------------------------------------------------------

class QrSymbol {
  readonly size: number;
  readonly dark: boolean[][];
  readonly fixed: boolean[][];

  constructor(readonly version: number) {
    this.size = version * 4 + 17;
    this.dark = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
    this.fixed = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
  }

  set(row: number, col: number, dark: boolean): void {
    this.dark[row][col] = dark;
    this.fixed[row][col] = true;
  }

  drawFunctionPatterns(): void {
    const n = this.size;
    for (let i = 0; i < n; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    this.finder(3, 3);
    this.finder(3, n - 4);
    this.finder(n - 4, 3);
    const centres = ALIGNMENT[this.version - 1];
    const last = centres.length - 1;
    centres.forEach((r, i) =>
      centres.forEach((c, j) => {
        const onFinder = (i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0);
        if (!onFinder) this.alignment(r, c);
      }),
    );
    this.drawFormat(0); // reserves the format areas; drawn again with the chosen mask
    this.drawVersion();
  }

  private finder(row: number, col: number): void {
    for (let dr = -4; dr <= 4; dr++) {
      for (let dc = -4; dc <= 4; dc++) {
        const r = row + dr;
        const c = col + dc;
        if (r < 0 || c < 0 || r >= this.size || c >= this.size) continue;
        const ring = Math.max(Math.abs(dr), Math.abs(dc));
        this.set(r, c, ring !== 2 && ring !== 4);
      }
    }
  }

  private alignment(row: number, col: number): void {
    for (let dr = -2; dr <= 2; dr++) {
      for (let dc = -2; dc <= 2; dc++) this.set(row + dr, col + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
    }
  }

  /// Error correction level M (bits 00) and the mask, BCH(15,5), XOR 101010000010010.
  drawFormat(mask: number): void {
    const data = mask; // (level M = 00) << 3 | mask
    let rem = data;
    for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i: number) => ((bits >>> i) & 1) === 1;
    const n = this.size;
    for (let i = 0; i <= 5; i++) this.set(i, 8, bit(i));
    this.set(7, 8, bit(6));
    this.set(8, 8, bit(7));
    this.set(8, 7, bit(8));
    for (let i = 9; i < 15; i++) this.set(8, 14 - i, bit(i));
    for (let i = 0; i < 8; i++) this.set(8, n - 1 - i, bit(i));
    for (let i = 8; i < 15; i++) this.set(n - 15 + i, 8, bit(i));
    this.set(n - 8, 8, true);
  }

  /// Versions 7 and up: the version number, BCH(18,6), in two 6×3 blocks.
  private drawVersion(): void {
    if (this.version < 7) return;
    let rem = this.version;
    for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
    const bits = (this.version << 12) | rem;
    for (let i = 0; i < 18; i++) {
      const dark = ((bits >>> i) & 1) === 1;
      const a = this.size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      this.set(b, a, dark);
      this.set(a, b, dark);
    }
  }

  /// The codewords in the zigzag order, two columns at a time from the bottom right.
  drawCodewords(codewords: number[]): void {
    const n = this.size;
    let i = 0;
    for (let right = n - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      const upward = ((right + 1) & 2) === 0;
      for (let step = 0; step < n; step++) {
        const row = upward ? n - 1 - step : step;
        for (let k = 0; k < 2; k++) {
          const col = right - k;
          if (this.fixed[row][col] || i >= codewords.length * 8) continue;
          this.dark[row][col] = ((codewords[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
          i++;
        }
      }
    }
  }

  applyMask(mask: number): void {
    for (let r = 0; r < this.size; r++) {
      for (let c = 0; c < this.size; c++) {
        if (!this.fixed[r][c] && maskBit(mask, r, c)) this.dark[r][c] = !this.dark[r][c];
      }
    }
  }

  penalty(): number {
    return runPenalty(this.dark) + blockPenalty(this.dark) + finderPenalty(this.dark) + balancePenalty(this.dark);
  }
}

function maskBit(mask: number, r: number, c: number): boolean {
  switch (mask) {
    case 0: return (r + c) % 2 === 0;
    case 1: return r % 2 === 0;
    case 2: return c % 3 === 0;
    case 3: return (r + c) % 3 === 0;
    case 4: return (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0;
    case 5: return ((r * c) % 2) + ((r * c) % 3) === 0;
    case 6: return (((r * c) % 2) + ((r * c) % 3)) % 2 === 0;
    default: return (((r + c) % 2) + ((r * c) % 3)) % 2 === 0;
  }
}

function lines(m: boolean[][]): boolean[][] {
  return [...m, ...m.map((_, c) => m.map((row) => row[c]))];
}

/// Rule 1: five or more modules of one colour in a row or column.
function runPenalty(m: boolean[][]): number {
  let total = 0;
  for (const line of lines(m)) {
    let run = 1;
    for (let i = 1; i <= line.length; i++) {
      if (i < line.length && line[i] === line[i - 1]) {
        run++;
      } else {
        if (run >= 5) total += run - 2;
        run = 1;
      }
    }
  }
  return total;
}

/// Rule 2: 2×2 blocks of one colour.
function blockPenalty(m: boolean[][]): number {
  let total = 0;
  for (let r = 0; r + 1 < m.length; r++) {
    for (let c = 0; c + 1 < m.length; c++) {
      const v = m[r][c];
      if (m[r][c + 1] === v && m[r + 1][c] === v && m[r + 1][c + 1] === v) total += 3;
    }
  }
  return total;
}

/// Rule 3: 1:1:3:1:1 finder-like patterns with four light modules on one side.
function finderPenalty(m: boolean[][]): number {
  const pattern = [true, false, true, true, true, false, true, false, false, false, false];
  const reversed = [...pattern].reverse();
  const matches = (line: boolean[], at: number, p: boolean[]) => p.every((v, k) => line[at + k] === v);
  let total = 0;
  for (const line of lines(m)) {
    for (let i = 0; i + pattern.length <= line.length; i++) {
      if (matches(line, i, pattern)) total += 40;
      if (matches(line, i, reversed)) total += 40;
    }
  }
  return total;
}

/// Rule 4: the share of dark modules away from half.
function balancePenalty(m: boolean[][]): number {
  const all = m.length * m.length;
  const dark = m.reduce((sum, row) => sum + row.filter(Boolean).length, 0);
  return Math.floor(Math.abs((dark * 100) / all - 50) / 5) * 10;
}

/// The modules of the QR code of `text` (true = dark), or null when it does not fit version 15.
export function qrModules(text: string): boolean[][] | null {
  const bytes = new TextEncoder().encode(text);
  let version = 1;
  while (version <= BLOCKS_M.length && dataCapacity(version) < bytes.length + (version < 10 ? 2 : 3)) version++;
  if (version > BLOCKS_M.length) return null;
  const codewords = interleaved(dataCodewords(bytes, version), version);
  let best: QrSymbol | null = null;
  let bestPenalty = Infinity;
  for (let mask = 0; mask < 8; mask++) {
    const s = new QrSymbol(version);
    s.drawFunctionPatterns();
    s.drawCodewords(codewords);
    s.applyMask(mask);
    s.drawFormat(mask);
    const p = s.penalty();
    if (p < bestPenalty) {
      best = s;
      bestPenalty = p;
    }
  }
  return best ? best.dark : null;
}

/// The QR code as an SVG image (a quiet zone of four modules), or null when the text is too long.
export function qrSvg(text: string, label: string): SVGSVGElement | null {
  const modules = qrModules(text);
  if (!modules) return null;
  const quiet = 4;
  const size = modules.length + quiet * 2;
  let d = "";
  modules.forEach((row, r) =>
    row.forEach((dark, c) => {
      if (dark) d += `M${c + quiet} ${r + quiet}h1v1h-1z`;
    }),
  );
  return svg(
    "svg",
    { class: "account-qr", viewBox: `0 0 ${size} ${size}`, role: "img", "aria-label": label, "shape-rendering": "crispEdges" },
    svg("title", null, label),
    svg("rect", { width: size, height: size, fill: "#ffffff" }),
    svg("path", { d, fill: "#000000" }),
  );
}
