// Bundles src/widget.js (+ socket.io-client + CSS) into the committed web/widget.js.
//   node build.mjs          write widget.js
//   node build.mjs --check  exit 1 if the committed widget.js is out of date
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";

const here = new URL(".", import.meta.url);
const version = (pkg) => JSON.parse(readFileSync(new URL(`node_modules/${pkg}/package.json`, here))).version;
const own = JSON.parse(readFileSync(new URL("package.json", here))).version;

const result = await build({
  entryPoints: [new URL("src/widget.js", here).pathname],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  loader: { ".css": "text" },
  legalComments: "eof",
  banner: {
    js: `/* Baclofen Assistant widget ${own}; bundles socket.io-client ${version("socket.io-client")} (MIT). Source: web/src/. */`,
  },
  write: false,
});
const code = result.outputFiles[0].text;
const target = new URL("widget.js", here);

if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(target, "utf8");
  } catch {}
  if (committed !== code) {
    console.error("web/widget.js is out of date: run `npm run build` in web/");
    process.exit(1);
  }
  console.log("web/widget.js is up to date");
} else {
  writeFileSync(target, code);
  console.log(`wrote web/widget.js (${code.length} bytes)`);
}
