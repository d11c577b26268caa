#!/bin/sh
# doclinks.sh ROOT — checks the links of README.md and docs/*.md.
#
# The documentation must stand alone in a clone of this repository:
#   - every relative link [text](path), ![alt](path) and [ref]: path must
#     name a file or folder inside the repository (the path is taken
#     relative to the linking file; a leading / means the repository root);
#   - a link with #anchor to a Markdown file (or #anchor alone: the same
#     file) must name one of that file's headings, by GitHub's slug rule
#     (lowercase; drop everything but letters, digits, _, - and spaces;
#     spaces become -; a repeated heading gets -1, -2 …);
#   - no text may mention ../shared, shared/spec or interface.md: the
#     contract is docs/protocol.md.
# Links with a scheme (https:, mailto:, ws: …) are not checked. Code
# (fenced blocks and `spans`) holds no links, but is searched for the
# forbidden names too.
#
# Prints one line per problem, FILE:LINE: what; exits 1 if there is any,
# 2 on a usage error, 0 otherwise.
set -eu

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: doclinks.sh REPOSITORY_ROOT" >&2
    exit 2
fi

exec /usr/bin/python3 - "$1" <<'PY'
import os
import re
import sys
import unicodedata

root = os.path.realpath(sys.argv[1])
files = []
if os.path.isfile(os.path.join(root, "README.md")):
    files.append("README.md")
docs = os.path.join(root, "docs")
if os.path.isdir(docs):
    files += sorted("docs/" + f for f in os.listdir(docs) if f.endswith(".md"))

FORBIDDEN = ("../shared", "shared/spec", "interface.md")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
INLINE_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
problems = []


def read_lines(rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read().split("\n")


def without_code(lines):
    """Yields (line number, text) outside fences, with `code spans` blanked."""
    fence = None
    for n, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        yield n, re.sub(r"(`+)(?:(?!\1).)+?\1", lambda m: " " * len(m.group(0)), line)


def heading_text(raw):
    t = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)  # links: their text
    t = re.sub(r"<[^>]+>", "", t)                        # HTML tags
    t = t.replace("`", "")
    t = re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))", "", t)      # emphasis markers
    return t.strip()


def slug(text):
    out = []
    for ch in text.lower():
        cat = unicodedata.category(ch)
        if ch in " -_" or cat[0] in "LNM":
            out.append("-" if ch == " " else ch)
    return "".join(out)


anchor_cache = {}


def anchors(rel):
    if rel in anchor_cache:
        return anchor_cache[rel]
    seen = {}
    result = set()
    lines = read_lines(rel)
    prev = None
    for n, line in without_code(lines):
        text = None
        m = ATX.match(lines[n - 1])
        if m:
            text = m.group(2)
        elif prev is not None and prev[0] == n - 1 and prev[1].strip() and \
                re.match(r"^ {0,3}(=+|-+)\s*$", lines[n - 1]) and \
                not re.match(r"^\s*([-*+]|\d+\.|\||#)", lines[n - 2]):
            text = lines[n - 2].strip()
        prev = (n, lines[n - 1])
        if text is None:
            continue
        s = slug(heading_text(text))
        k = seen.get(s, 0)
        seen[s] = k + 1
        result.add(s if k == 0 else "%s-%d" % (s, k))
    anchor_cache[rel] = result
    return result


def check(rel, n, target):
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1]
    if not target or SCHEME.match(target):
        return
    path, _, anchor = target.partition("#")
    path = path.split("?", 1)[0]
    if path:
        base = root if path.startswith("/") else os.path.dirname(os.path.join(root, rel))
        full = os.path.realpath(os.path.join(base, path.lstrip("/")))
        if full != root and not full.startswith(root + os.sep):
            problems.append("%s:%d: %s leaves the repository" % (rel, n, target))
            return
        if not os.path.exists(full):
            problems.append("%s:%d: %s: no such file in the repository" % (rel, n, target))
            return
        dest = os.path.relpath(full, root)
    else:
        dest = rel
    if anchor and dest.endswith(".md") and os.path.isfile(os.path.join(root, dest)):
        if anchor.lower() not in anchors(dest):
            problems.append("%s:%d: %s: %s has no heading with the anchor #%s"
                            % (rel, n, target, dest, anchor))


for rel in files:
    lines = read_lines(rel)
    for n, line in enumerate(lines, 1):
        for bad in FORBIDDEN:
            if bad in line:
                problems.append("%s:%d: mentions %s; the contract is docs/protocol.md, "
                                "which a clone has" % (rel, n, bad))
    for n, line in without_code(lines):
        for m in INLINE_LINK.finditer(line):
            check(rel, n, m.group(2))
        m = REF_DEF.match(line)
        if m:
            check(rel, n, m.group(2))

for p in problems:
    print(p)
if problems:
    print("doclinks: %d broken link(s) or forbidden mention(s) in %d file(s)"
          % (len(problems), len(files)), file=sys.stderr)
    sys.exit(1)
print("doclinks: %d files, all links resolve" % len(files))
PY
