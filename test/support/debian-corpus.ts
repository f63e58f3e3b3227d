import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Debian's package descriptions, by Section: real prose nobody on the project wrote. The long
 * descriptions come from the Translation-en lists, which `apt-get update -o Acquire::Languages=en`
 * fetches (.ci/run does); `apt-cache show` prints them only when told the language too.
 */
export interface Description {
  readonly pkg: string;
  readonly section: string;
  readonly summary: string;
  /** The long description as prose: Debian's leading spaces and " ." paragraph marks removed. */
  readonly text: string;
}

const LISTS = "/var/lib/apt/lists";
/** A list file as text, whatever its compression (apt's own helper reads them). */
const catList = (file: string): string => execFileSync("/usr/lib/apt/apt-helper", ["cat-file", join(LISTS, file)], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
const lists = (pattern: RegExp): string[] => (existsSync(LISTS) ? readdirSync(LISTS).filter((f) => pattern.test(f)).sort() : []);

/** Packages whose descriptions are boilerplate (libraries, headers, docs, data, debug symbols). */
const boilerplate = (pkg: string): boolean => /^lib/.test(pkg) || /-(dev|doc|docs|data|dbg|dbgsym|common)$/.test(pkg);

const field = (record: string, name: string): string | undefined => new RegExp(`^${name}: (.*)$`, "m").exec(record)?.[1]?.trim();

let index: { sections: Map<string, Array<{ pkg: string; md5: string }>>; long: Map<string, { summary: string; text: string }> } | undefined;

/** Package names and description ids by the last part of their Section, and the long descriptions by id. */
const load = () => {
  if (index) return index;
  const sections = new Map<string, Array<{ pkg: string; md5: string }>>();
  const seen = new Set<string>();
  for (const f of lists(/_Packages(\.[a-z0-9]+)?$/)) {
    for (const record of catList(f).split(/\n\n+/)) {
      const pkg = field(record, "Package"), section = field(record, "Section")?.split("/").at(-1), md5 = field(record, "Description-md5");
      if (!pkg || !section || !md5 || seen.has(pkg)) continue;
      seen.add(pkg);
      (sections.get(section) ?? sections.set(section, []).get(section)!).push({ pkg, md5 });
    }
  }
  const long = new Map<string, { summary: string; text: string }>();
  for (const f of lists(/_Translation-en(\.[a-z0-9]+)?$/)) {
    for (const record of catList(f).split(/\n\n+/)) {
      const md5 = field(record, "Description-md5");
      const m = /^Description-en: (.*)\n((?: .*\n?)*)/m.exec(record);
      if (!md5 || !m) continue;
      const text = m[2]!.split("\n").map((l) => l.trim()).filter((l) => l !== "" && l !== ".").join(" ").replace(/\s+/g, " ").trim();
      long.set(md5, { summary: m[1]!.trim(), text });
    }
  }
  return (index = { sections, long });
};

const hashOf = (s: string): string => createHash("sha256").update(s).digest("hex");
const words = (t: string): Set<string> => new Set(t.toLowerCase().match(/[a-z0-9]+/g) ?? []);
const jaccard = (a: Set<string>, b: Set<string>): number => {
  let both = 0;
  for (const w of a) if (b.has(w)) both++;
  return both / Math.max(1, a.size + b.size - both);
};

/**
 * The usable descriptions of a section in a fixed order (by sha256 of the package name): no
 * boilerplate packages, at least `minWords` words, and one of each family of near-identical texts
 * (word Jaccard ≥ 0.5 with one kept earlier: the 26 soapysdr modules count once).
 */
export const sectionDescriptions = (section: string, limit = Infinity, minWords = 25): Description[] => {
  const { sections, long } = load();
  const entries = (sections.get(section) ?? []).filter((e) => !boilerplate(e.pkg)).sort((a, b) => (hashOf(a.pkg) < hashOf(b.pkg) ? -1 : 1));
  const kept: Array<{ d: Description; w: Set<string> }> = [];
  for (const { pkg, md5 } of entries) {
    if (kept.length >= limit) break;
    const l = long.get(md5);
    if (!l || l.text.split(" ").length < minWords) continue;
    const w = words(l.text);
    if (kept.some((k) => jaccard(k.w, w) >= 0.5)) continue;
    kept.push({ d: { pkg, section, summary: l.summary, text: l.text }, w });
  }
  return kept.map((k) => k.d);
};

/** Whether the long descriptions are there (an image without `apt-get update -o Acquire::Languages=en` has summaries only). */
export const debianDescriptionsAvailable = (): boolean => {
  try {
    return load().long.size > 1000;
  } catch {
    return false;
  }
};
