"""Assembles the English training corpus from installed Debian packages, deterministically.

Writes one paragraph per line to OUT/train.txt and OUT/heldout.txt (a paragraph goes to held-out when
the sha256 of its text ends in 00 by modulo 50), plus OUT/sources.json with each source's package,
version, licence and counts. Debian's package descriptions are never read (they are the scenario's
test corpus). Usage: /usr/bin/python3 corpus.py OUT
"""
import glob, gzip, hashlib, html.parser, json, os, re, subprocess, sys, unicodedata

SOURCES = [
    # (name, package, licence, reader, paths)
    ("wordnet", "wordnet-base", "WordNet 3.0 licence (Princeton; BSD-like, free to use, copy and distribute)", "wordnet", ["/usr/share/wordnet/data.noun", "/usr/share/wordnet/data.verb", "/usr/share/wordnet/data.adj", "/usr/share/wordnet/data.adv"]),
    ("devil", "dict-devil", "public domain (Ambrose Bierce, The Devil's Dictionary, 1911)", "dict", ["/usr/share/dictd/devil.dict.dz"]),
    ("jargon", "dict-jargon", "public domain (The Jargon File 4.4.7)", "dict", ["/usr/share/dictd/jargon.dict.dz"]),
    ("python-doc", "python3.11-doc", "PSF License Agreement (Python documentation)", "html", ["/usr/share/doc/python3.11/html/**/*.html"]),
    ("postgresql-doc", "postgresql-doc-15", "PostgreSQL Licence (BSD-like)", "html", ["/usr/share/doc/postgresql-doc-15/html/*.html"]),
    ("sqlite-doc", "sqlite3-doc", "public domain (SQLite documentation)", "html", ["/usr/share/doc/sqlite3/**/*.html"]),
]

def clean(s):
    s = unicodedata.normalize("NFKC", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s

def wordnet(path):
    for line in open(path, encoding="latin-1"):
        if line.startswith("  "):
            continue
        if "|" not in line:
            continue
        gloss = line.split("|", 1)[1]
        yield gloss

def dict_entries(path):
    text = gzip.open(path).read().decode("utf-8", "replace")
    # dictd entries: a headword line then indented body; paragraphs are blank-line separated
    for para in re.split(r"\n\s*\n", text):
        lines = [l.strip() for l in para.split("\n")]
        body = " ".join(l for l in lines if l)
        if len(body.split()) >= 6:
            yield body

class Paragraphs(html.parser.HTMLParser):
    BLOCK = {"p", "li", "dd", "dt", "td", "blockquote", "h1", "h2", "h3", "h4", "div"}
    SKIP = {"pre", "script", "style", "code", "tt", "kbd", "samp"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.buf, self.skip = [], [], 0
        self.code = False

    def flush(self):
        t = "".join(self.buf)
        self.buf = []
        if t.strip():
            self.out.append(t)

    def handle_starttag(self, tag, attrs):
        if tag in ("pre", "script", "style"):
            self.skip += 1
        if tag in self.BLOCK:
            self.flush()

    def handle_endtag(self, tag):
        if tag in ("pre", "script", "style"):
            self.skip = max(0, self.skip - 1)
        if tag in self.BLOCK:
            self.flush()

    def handle_data(self, data):
        if not self.skip:
            self.buf.append(data)

def html_paragraphs(path):
    p = Paragraphs()
    p.feed(open(path, encoding="utf-8", errors="replace").read())
    p.flush()
    for t in p.out:
        t = clean(t)
        words = t.split()
        # prose only: at least 8 words, mostly alphabetic
        if len(words) < 8:
            continue
        alpha = sum(1 for w in words if re.fullmatch(r"[A-Za-z][a-z]*[,.;:]?", w))
        if alpha < 0.6 * len(words):
            continue
        yield t

def version(pkg):
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout.strip()

def main(out):
    os.makedirs(out, exist_ok=True)
    seen = set()
    train, held, meta = [], [], []
    for name, pkg, licence, reader, patterns in SOURCES:
        files = sorted(f for pat in patterns for f in glob.glob(pat, recursive=True))
        if not files:
            sys.exit(f"{name}: none of {patterns} found; install it: apt-get install {pkg}")
        fn = {"wordnet": wordnet, "dict": dict_entries, "html": html_paragraphs}[reader]
        n = words = 0
        for f in files:
            for para in fn(f):
                para = clean(para)
                if not para or para in seen:
                    continue
                seen.add(para)
                h = int(hashlib.sha256(para.encode()).hexdigest(), 16)
                (held if h % 50 == 0 else train).append(para)
                n += 1
                words += len(para.split())
        meta.append({"source": name, "package": pkg, "version": version(pkg), "licence": licence, "files": len(files), "paragraphs": n, "words": words})
        print(f"{name}: {n} paragraphs, {words} words", file=sys.stderr)
    with open(os.path.join(out, "train.txt"), "w") as f:
        f.write("\n".join(train) + "\n")
    with open(os.path.join(out, "heldout.txt"), "w") as f:
        f.write("\n".join(held) + "\n")
    with open(os.path.join(out, "sources.json"), "w") as f:
        json.dump(meta, f, indent=2)

if __name__ == "__main__":
    main(sys.argv[1])
