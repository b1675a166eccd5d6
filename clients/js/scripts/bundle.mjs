// Bundles (after tsc has written dist/index.js and its types):
// - dist/miniprogram/index.js: the SDK as one CommonJS file for the mini-program's "构建 npm"
//   (package.json "miniprogram" field), ES2018 as older WeChat base libraries need;
// - dist/widget/kefu-widget.js: the H5 widget for a <script> tag (global `Kefu`), with its size
//   checked against a budget.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

await build({
  entryPoints: ["src/index.ts"],
  bundle: true,
  format: "cjs",
  platform: "neutral",
  target: ["es2018"],
  outfile: "dist/miniprogram/index.js",
  sourcemap: true,
  legalComments: "none",
});
// CommonJS inside a "type": "module" package: say so for Node-based tools.
writeFileSync("dist/miniprogram/package.json", '{"type": "commonjs"}\n');

const widget = "dist/widget/kefu-widget.js";
await build({
  entryPoints: ["src/widget/index.ts"],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "Kefu",
  target: ["es2018", "safari12", "chrome70"],
  outfile: widget,
  sourcemap: true,
  legalComments: "none",
});
const bytes = readFileSync(widget);
const gzip = gzipSync(bytes).length;
console.log(`${widget}: ${(bytes.length / 1024).toFixed(1)} kB, ${(gzip / 1024).toFixed(1)} kB gzip`);
// The widget loads on shops' pages over mobile networks: keep it small.
const BUDGET_GZIP = 20 * 1024;
if (gzip > BUDGET_GZIP) {
  console.error(`over the widget's budget of ${BUDGET_GZIP / 1024} kB gzip`);
  process.exit(1);
}
