#!/usr/bin/env bash
# Build the colonies(1) man page from the CLI's argparse parser (colonies_pkg.cli:build_parser).
#
#   python -m pip install -e '.[docs]'      # argparse-manpage
#   scripts/build_manpage.sh [OUTPUT]       # default: ./colonies.1
#   man -l colonies.1
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/colonies.1}"
python="${PYTHON:-python3}"
version="$(PYTHONPATH="$repo" "$python" -c 'import colonies_pkg; print(colonies_pkg.__version__)')"
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$python" -c 'import sys; from argparse_manpage.cli import main; sys.exit(main())' \
    --module colonies_pkg.cli --function build_parser \
    --prog colonies --project-name colonies-py --version "$version" \
    --description "ColonyOS Colonies server, CLI and sample executor" \
    --manual-title "colonies-py manual" --url "https://colonyos.io" \
    --output "$out"
echo "wrote $out" >&2
