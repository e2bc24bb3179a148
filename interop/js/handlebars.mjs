// JSON Lines harness around handlebars.js 4.7, as Sunbird RC's certificate signer runs it.
//
// Each input line: {"template", "data", "delimiters"?: [open, close], "helpers"?: ["formatTime"],
// "timeZone"?}. Each output line: {"text"} or {"error"}, and then {"json"} or {"jsonError"}: the
// signer's `JSON.parse(text.replaceAll("\\", "\\\\"))`. A request the harness cannot run (formatTime
// without moment-timezone installed) answers {"unavailable": why}.
//
// Delimiters: npm handlebars-delimiters 1.0 when installed; otherwise the same rewrite written here
// (each delimiter is a RegExp fragment, "(?!=)" follows an opening one not ending in "=", existing
// {{...}} are escaped when the closing one is not "}}", and the exec loop resumes at the old
// lastIndex after each replacement).
import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const Handlebars = require("handlebars");

function optional(name) {
  try {
    return require(name);
  } catch {
    return null;
  }
}

const moment = optional("moment-timezone");
const delimitersPackage = optional("handlebars-delimiters");

function replaceAll(str, source, escape) {
  const regex = new RegExp(source, "g");
  let match;
  while ((match = regex.exec(str))) {
    const inner = (escape ? "\\" : "") + "{{" + match[1] + "}}";
    str = str.slice(0, match.index) + inner + str.slice(match.index + match[0].length);
  }
  return str;
}

function rewrite(template, delimiters) {
  const open = delimiters[0].slice(-1) === "=" ? delimiters[0] : delimiters[0] + "(?!=)";
  if (open !== "{{" && delimiters[1] !== "}}") {
    template = replaceAll(template, "{{([\\s\\S]+?)}}", true);
  }
  return replaceAll(template, open + "([\\s\\S]+?)" + delimiters[1], false);
}

function engine(request) {
  const hb = Handlebars.create();
  const delimiters = request.delimiters || ["{{", "}}"];
  if (delimitersPackage) {
    delimitersPackage(hb, [...delimiters]);
  } else {
    const compile = hb.compile;
    hb.compile = (source, ...rest) => compile.call(hb, rewrite(source, delimiters), ...rest);
  }
  if ((request.helpers || []).includes("formatTime")) {
    const zone = request.timeZone;
    // Sunbird RC 1.0's helper, services/certificate-signer/src/services/signerService.js
    hb.registerHelper("formatTime", function (date) {
      try {
        if (zone) return moment.tz(date, zone).format();
      } catch (err) {
        // the signer logs the failure and falls through
      }
      return date;
    });
  }
  return hb;
}

function answer(request) {
  if ((request.helpers || []).includes("formatTime") && !moment) {
    return { unavailable: "moment-timezone is not installed in interop/js/node_modules" };
  }
  const out = {};
  let text;
  try {
    text = engine(request).compile(request.template)(request.data);
    out.text = text;
  } catch (error) {
    out.error = String(error && error.message);
    return out;
  }
  try {
    out.json = JSON.parse(text.replaceAll("\\", "\\\\"));
  } catch (error) {
    out.jsonError = String(error && error.message);
  }
  return out;
}

// Handlebars logs denied prototype access to the console; keep stdout for answers only.
console.log = (...args) => process.stderr.write(args.join(" ") + "\n");
console.error = console.log;
console.warn = console.log;
console.info = console.log;
console.debug = console.log;

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let reply;
  try {
    reply = answer(JSON.parse(line));
  } catch (error) {
    reply = { harnessError: String(error && error.message) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
