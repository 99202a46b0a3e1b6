// Builds the browser console: src/main.ts bundled by esbuild into app.js, the stylesheets of
// src/styles concatenated in name order into app.css, src/index.html copied. labgated embeds the
// result at build time (console/CMakeLists.txt) and serves it at / (docs/console.md).
//   node build.mjs [--outdir DIR] [--watch]
import { build, context } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf("--outdir");
const outdir = outIndex >= 0 ? args[outIndex + 1] : join(here, "dist");
const watch = args.includes("--watch");

function writeStatic() {
  mkdirSync(outdir, { recursive: true });
  const styles = join(here, "src", "styles");
  const css = readdirSync(styles)
    .filter((f) => f.endsWith(".css"))
    .sort()
    .map((f) => `/* ${f} */\n` + readFileSync(join(styles, f), "utf8"))
    .join("\n");
  writeFileSync(join(outdir, "app.css"), css);
  copyFileSync(join(here, "src", "index.html"), join(outdir, "index.html"));
}

const options = {
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  outfile: join(outdir, "app.js"),
  format: "iife",
  target: "es2020",
  minify: !watch,
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
};

writeStatic();
if (watch) {
  const ctx = await context({
    ...options,
    plugins: [{ name: "static", setup: (b) => b.onEnd(() => writeStatic()) }],
  });
  await ctx.watch();
  console.log(`console: watching src/, writing ${outdir}`);
} else {
  await build(options);
}
