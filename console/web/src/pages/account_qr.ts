// A QR code of the TOTP provisioning address, drawn as SVG: the symbol is encoded by the npm
// package qrcode-generator (byte mode, error correction level M, the smallest version that fits),
// bundled at build time; the drawing is ours (dom.ts svg(), no HTML strings, so the CSP holds).
// The address is shown as text beside it as well, for apps that cannot scan.
import qrcode from "qrcode-generator";
import { svg } from "../lib/dom";

/// The dark modules of the symbol for `text` (UTF-8), row by row; null when it does not fit.
export function qrModules(text: string): boolean[][] | null {
  try {
    // The library's byte mode takes one character per byte: hand it the UTF-8 bytes so.
    const bytes = String.fromCharCode(...new TextEncoder().encode(text));
    const code = qrcode(0, "M");
    code.addData(bytes, "Byte");
    code.make();
    const n = code.getModuleCount();
    return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => code.isDark(r, c)));
  } catch {
    return null; // too long for any version
  }
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
