#!/bin/sh
# Sets up everything onnxcc needs on Debian 12: the build tools and libraries (apt), and the
# Python packages for the model tests and the examples (.venv in the repo root).
# Idempotent and quick when all is in place: apt runs only when a package is missing, pip
# only when an installed version differs from tests/requirements.txt.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv"
REQS="$ROOT/tests/requirements.txt"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- Debian packages ----------------------------------------------------------------------
PKGS="gcc clang cmake make libprotobuf-c-dev protobuf-c-compiler libcriterion-dev \
python3-venv python3-pip python3-torch python3-torchvision python3-sklearn"

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script expects Debian 12"

missing=""
for p in $PKGS; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        die "missing packages:$missing (not root and no sudo to install them)"
    fi
    say "installing missing Debian packages:$missing"
    $SUDO apt-get update || die "apt-get update failed"
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends $missing || die "apt-get install failed"
else
    say "Debian packages: all present"
fi

# --- Python venv --------------------------------------------------------------------------
# /usr/bin/python3, not whatever python3 comes first on PATH: Debian's torch, torchvision
# and sklearn live in its site-packages, which --system-site-packages makes visible.
[ -x /usr/bin/python3 ] || die "/usr/bin/python3 not found"
[ -f "$REQS" ] || die "$REQS not found"

# A .venv made by another python (e.g. pyenv's) cannot see Debian's torch: remake it.
if [ -x "$VENV/bin/python" ] && ! { grep -qx 'home = /usr/bin' "$VENV/pyvenv.cfg" &&
        grep -qx 'include-system-site-packages = true' "$VENV/pyvenv.cfg"; } 2>/dev/null; then
    say "$VENV was not made by /usr/bin/python3 with --system-site-packages: recreating it"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    /usr/bin/python3 -m venv --system-site-packages "$VENV" || die "venv creation failed"
fi

# Prints the requirements whose installed version differs from the pin (or is absent).
reqs_unmet() {
    "$VENV/bin/python" - "$REQS" <<'EOF'
import sys
from importlib import metadata
for line in open(sys.argv[1]):
    line = line.split('#', 1)[0].strip()
    if not line:
        continue
    name, sep, want = line.partition('==')
    name = name.strip()
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    if have is None or (sep and have != want.strip()):
        print(line)
EOF
}

unmet=$(reqs_unmet) || die "could not check the installed Python packages"
if [ -n "$unmet" ]; then
    say "installing Python packages into .venv: $(echo "$unmet" | tr '\n' ' ')"
    "$VENV/bin/pip" install --disable-pip-version-check -r "$REQS" || die "pip install failed"
    unmet=$(reqs_unmet) || die "could not check the installed Python packages"
    [ -z "$unmet" ] || die "still not matching after pip install: $unmet"
    # Torch must import with the pinned numpy, or the exports fail later in a confusing
    # way.  (Checked after a change only: importing torch takes a second or two.)
    "$VENV/bin/python" -c 'import torch, torchvision, sklearn, onnx, onnxruntime, numpy' \
        || die ".venv cannot import torch/torchvision/sklearn/onnx/onnxruntime/numpy"
else
    say "Python packages in .venv: all match tests/requirements.txt"
fi
say "done"
