"""Debian package long descriptions by Section, for measuring the models (never for training them).
Needs `apt-get update -o Acquire::Languages=en` (Translation-en lists). Skips libraries,
-dev/-doc/-data/-dbg/-common packages and near-identical families (same first 40 characters of the
long description). Usage: descriptions.py OUT.jsonl"""
import glob, json, re, subprocess, sys

SKIP = re.compile(r"^lib|-(dev|doc|data|dbg|common)$")

def main(out):
    avail = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True).stdout
    sections = {}
    for block in avail.split("\n\n"):
        m = re.search(r"^Package: (\S+)", block, re.M)
        s = re.search(r"^Section: (\S+)", block, re.M)
        if m and s and not SKIP.search(m.group(1)):
            sections[m.group(1)] = s.group(1).split("/")[-1]
    rows, seen = [], set()
    for path in sorted(glob.glob("/var/lib/apt/lists/*_main_i18n_Translation-en*")):
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], capture_output=True, text=True).stdout
        for block in text.split("\n\n"):
            m = re.search(r"^Package: (\S+)", block, re.M)
            d = re.search(r"^Description-en: (.*(?:\n .*)*)", block, re.M)
            if not m or not d or m.group(1) not in sections:
                continue
            lines = d.group(1).split("\n")
            body = " ".join(l.strip() for l in lines[1:] if l.strip() != ".")
            if len(body.split()) < 15 or body[:40] in seen:
                continue
            seen.add(body[:40])
            rows.append({"package": m.group(1), "section": sections[m.group(1)], "text": lines[0].strip() + ". " + body})
    with open(out, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(len(rows), "descriptions", file=sys.stderr)

if __name__ == "__main__":
    main(sys.argv[1])
