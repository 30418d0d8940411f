#!/usr/bin/env python3
"""Fails when po/POTFILES.in and the sources disagree.

Every file under src/ or server/ that marks a string for translation must be
listed, or xgettext never sees its strings; every listed file must exist, or
the quipu-pot target fails.

Usage: check-potfiles.py SOURCE_ROOT
"""

import pathlib
import re
import sys

SCANNED_DIRS = ("src", "server")
# _( N_( C_( NC_( and the gettext family in C; translatable="yes" in GtkBuilder.
C_MARKER = re.compile(r"(?<![A-Za-z0-9_])(?:N|C|NC)?_\s*\(|\b(?:g_d)?n?gettext\s*\(")
MARKERS = {
    ".c": C_MARKER,
    ".h": C_MARKER,
    ".ui": re.compile(r'translatable\s*=\s*"yes"'),
}


def listed_files(potfiles):
    """The paths in POTFILES.in, without blank lines and # comments."""
    for line in potfiles.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def marked_files(root):
    """Source files, relative to root, that mark at least one string."""
    for directory in SCANNED_DIRS:
        for path in sorted((root / directory).rglob("*")):
            marker = MARKERS.get(path.suffix)
            if marker is not None and path.is_file() and marker.search(path.read_text(encoding="utf-8")):
                yield path.relative_to(root).as_posix()


def main(argv):
    if len(argv) != 2:
        print("usage: %s SOURCE_ROOT" % argv[0], file=sys.stderr)
        return 2
    root = pathlib.Path(argv[1])
    potfiles = root / "po" / "POTFILES.in"
    listed = set(listed_files(potfiles))
    problems = []

    for name in sorted(listed):
        if not (root / name).is_file():
            problems.append("%s lists %s, which does not exist" % (potfiles, name))
    for name in marked_files(root):
        if name not in listed:
            problems.append("%s marks strings for translation but is not in %s" % (name, potfiles))

    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
