#!/usr/bin/env node
// check_icaljs.mjs - read cards with ical.js 2.2.1, the parser of Thunderbird
// (>= 102) address books.
//
//   node check_icaljs.mjs --manifest MANIFEST.json [--jsonl]
//
// MANIFEST = {"version": "3.0", "items": [{"vcf": PATH, "expected": {...}}]}
// as written by check_dir.py (expected = expected.py's dict).  By hand, run
// `check_dir.py --only icaljs DIR`.  Exit 0 = all OK, 1 = a failure, 2 =
// usage, 77 = ical.js not installed (run `npm ci` in tests/vcard).
//
// Per card: strict UTF-8 (a BOM is kept, ical.js must see it); ICAL.parse
// gives exactly one vcard component; ical.js must have used the design set of
// the card's version (it takes vCard 4 rules ONLY if the first property is
// VERSION:4.0, otherwise silently vCard 3); FN exactly once and single-valued
// (a multi-value FN/NOTE is dropped by Thunderbird); FN, N (structured:
// family, given), EMAIL and TEL values (in order), NOTE and (when known) ORG
// compared with expected.py.
//
// Known difference (vcard.md 1.4, kewisch/ical.js#173): ical.js unescapes
// only \\ \, \n in non-structured text, so an escaped "\;" stays "\;" in FN,
// NOTE, EMAIL, TEL.  A value that matches once "\;" -> ";" is accepted and
// reported as a note "known difference".

import { readFileSync } from "node:fs";

let ICAL;
try {
  ICAL = (await import("ical.js")).default;
} catch (e) {
  console.error(`SKIP icaljs: not installed (${e.code || e.message}; run npm ci in tests/vcard)`);
  process.exit(77);
}

const args = process.argv.slice(2);
let manifestPath = null;
let jsonl = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--manifest" && i + 1 < args.length) manifestPath = args[++i];
  else if (args[i] === "--jsonl") jsonl = true;
  else {
    console.error("usage: node check_icaljs.mjs --manifest MANIFEST.json [--jsonl]");
    process.exit(2);
  }
}
if (!manifestPath) {
  console.error("usage: node check_icaljs.mjs --manifest MANIFEST.json [--jsonl]");
  process.exit(2);
}

const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const version = manifest.version || "3.0";
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const show = (v) => {
  const s = JSON.stringify(v);
  return s && s.length > 160 ? `${s.slice(0, 150)}...(${s.length} chars)` : s;
};
const unsemi = (v) => (typeof v === "string" ? v.replaceAll("\\;", ";") : v);

// Compare a non-structured text value, allowing the known "\;" difference.
function cmpText(errs, notes, what, got, want) {
  if (same(got, want)) return;
  const fixed = Array.isArray(got) ? got.map(unsemi) : unsemi(got);
  if (same(fixed, want)) {
    notes.push(`known difference (ical.js#173): ${what} keeps "\\;" -> ${show(got)}`);
    return;
  }
  errs.push(`${what}: got ${show(got)}, expected ${show(want)}`);
}

// The single value of a property; a multi-valued one is an error.
function single(errs, what, prop) {
  const values = prop.getValues();
  if (values.length !== 1) {
    errs.push(`${what} came back as ${values.length} values ${show(values)} (Thunderbird drops it)`);
  }
  return values[0];
}

function checkOne(path, exp) {
  const errs = [];
  const notes = [];
  let text;
  try {
    text = decoder.decode(readFileSync(path));
  } catch (e) {
    return [[`not valid UTF-8 or unreadable: ${e.message}`], notes];
  }
  let jcard;
  try {
    jcard = ICAL.parse(text);
  } catch (e) {
    return [[`parse failed: ${e.name}: ${String(e.message).slice(0, 200)}`], notes];
  }
  if (!Array.isArray(jcard) || jcard.length === 0) return [["no component"], notes];
  if (Array.isArray(jcard[0])) return [[`${jcard.length} components (want exactly one vcard)`], notes];
  if (jcard[0] !== "vcard") return [[`component is ${jcard[0]}, not vcard`], notes];
  const first = jcard[1][0];
  const rules = first && first[0] === "version" && first[3] === "4.0" ? "vcard4" : "vcard3";
  const wantRules = (exp.version || version) === "4.0" ? "vcard4" : "vcard3";
  if (rules !== wantRules) {
    errs.push(`ical.js parsed the card with ${rules} rules, not ${wantRules} (VERSION must be the first property)`);
  }
  let comp;
  try {
    comp = new ICAL.Component(jcard);
  } catch (e) {
    return [[`ICAL.Component failed: ${e.message}`], notes];
  }
  const fns = comp.getAllProperties("fn");
  if (fns.length !== 1) {
    errs.push(`${fns.length} FN properties`);
  } else {
    cmpText(errs, notes, "FN", single(errs, "FN", fns[0]), exp.fn);
  }
  const ns = comp.getAllProperties("n");
  if (ns.length !== 1) {
    errs.push(`${ns.length} N properties`);
  } else {
    let n = ns[0].getFirstValue();
    if (!Array.isArray(n)) n = [n];
    const [family = "", given = ""] = n;
    for (const [what, got, want] of [["N family", family, exp.n_family], ["N given", given, exp.n_given]]) {
      if (Array.isArray(got)) errs.push(`${what} came back as a list ${show(got)} (unescaped ',')`);
      else if (!same(got, want)) errs.push(`${what}: got ${show(got)}, expected ${show(want)}`);
    }
  }
  const emails = comp.getAllProperties("email").map((p) => single(errs, "EMAIL", p));
  cmpText(errs, notes, "EMAIL", emails, exp.emails);
  const tels = comp.getAllProperties("tel").map((p) => single(errs, "TEL", p));
  cmpText(errs, notes, "TEL", tels, exp.tels);
  const noteProps = comp.getAllProperties("note");
  if (noteProps.length > 1) errs.push(`${noteProps.length} NOTE properties`);
  const note = noteProps.length ? single(errs, "NOTE", noteProps[0]) : null;
  cmpText(errs, notes, "NOTE", note, exp.note);
  if (exp.org_checked) {
    const orgs = comp.getAllProperties("org");
    let org = orgs.length ? orgs[0].getFirstValue() : null;
    if (Array.isArray(org)) org = org.length === 1 ? org[0] : org;
    if (!same(org, exp.org)) errs.push(`ORG: got ${show(org)}, expected ${show(exp.org)}`);
  }
  return [errs, notes];
}

let failed = 0;
for (const item of manifest.items) {
  let errs;
  let notes = [];
  if (item.error) errs = [item.error];
  else {
    try {
      [errs, notes] = checkOne(item.vcf, item.expected);
    } catch (e) {
      errs = [`reader raised ${e.name}: ${e.message}`];
    }
  }
  if (errs.length) failed++;
  if (jsonl) {
    process.stdout.write(JSON.stringify({ file: item.vcf, errors: errs, notes }) + "\n");
  } else {
    for (const e of errs) console.log(`${item.vcf}: ${e}`);
    for (const n of notes) console.log(`${item.vcf}: note: ${n}`);
  }
}
process.exitCode = failed ? 1 : 0;
