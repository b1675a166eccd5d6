// The widget as one minified script for a <script> tag (global `Kefu`), plus its gzip size.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const outfile = "dist/widget/kefu-widget.js";
await build({
  entryPoints: ["src/widget/index.ts"],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "Kefu",
  target: ["es2018", "safari12", "chrome70"],
  outfile,
  sourcemap: true,
  legalComments: "none",
});
const bytes = readFileSync(outfile);
const gzip = gzipSync(bytes).length;
console.log(`${outfile}: ${(bytes.length / 1024).toFixed(1)} kB, ${(gzip / 1024).toFixed(1)} kB gzip`);
// The widget loads on shops' pages over mobile networks: keep it small.
const BUDGET_GZIP = 20 * 1024;
if (gzip > BUDGET_GZIP) {
  console.error(`over the widget's budget of ${BUDGET_GZIP / 1024} kB gzip`);
  process.exit(1);
}
