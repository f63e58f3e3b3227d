"""Debian package long descriptions by Section, for measuring the models (never for training them).
Needs `apt-get update -o Acquire::Languages=en`. Skips libraries, -dev/-doc/-data/-dbg packages and
near-identical families (same first 40 characters of description). Usage: descriptions.py OUT.jsonl"""
import json, re, subprocess, sys

SKIP = re.compile(r"^lib|-(dev|doc|data|dbg|common)$")

def main(out):
    avail = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True).stdout
    sections = {}
    for block in avail.split("\n\n"):
        m = re.search(r"^Package: (\S+)", block, re.M)
        s = re.search(r"^Section: (\S+)", block, re.M)
        if m and s and not SKIP.search(m.group(1)):
            sections[m.group(1)] = s.group(1).split("/")[-1]
    names = sorted(sections)
    rows, seen = [], set()
    for i in range(0, len(names), 500):
        shown = subprocess.run(["apt-cache", "show", "--no-all-versions", *names[i:i + 500]], capture_output=True, text=True).stdout
        for block in shown.split("\n\n"):
            m = re.search(r"^Package: (\S+)", block, re.M)
            d = re.search(r"^Description(?:-en)?: (.*(?:\n .*)*)", block, re.M)
            if not m or not d:
                continue
            lines = d.group(1).split("\n")
            body = " ".join(l.strip() for l in lines[1:] if l.strip() != ".")
            text = (lines[0].strip() + ". " + body).strip()
            if len(body.split()) < 15:
                continue
            key = body[:40]
            if key in seen:
                continue
            seen.add(key)
            rows.append({"package": m.group(1), "section": sections[m.group(1)], "text": text})
    with open(out, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(len(rows), "descriptions", file=sys.stderr)

if __name__ == "__main__":
    main(sys.argv[1])
