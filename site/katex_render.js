// Render TeX to HTML with KaTeX at build time, for scripts/build_site.py.
// Protocol: one JSON object per line on stdin, {"tex": "...", "display": true|false};
// one JSON object per line on stdout, {"html": "..."} or {"error": "..."}.
"use strict";
const katex = require("katex");
const readline = require("readline");

const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on("line", (line) => {
  let reply;
  try {
    const { tex, display } = JSON.parse(line);
    reply = { html: katex.renderToString(tex, { displayMode: display, throwOnError: true, output: "htmlAndMathml", strict: "ignore" }) };
  } catch (err) {
    reply = { error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
