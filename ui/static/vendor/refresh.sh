#!/usr/bin/env bash
# Refreshes the vendored front-end files from the npm registry with `npm pack` (no build step).
# Pinned versions live here; run it, review `git diff`, commit. The files are never edited by hand.
set -euo pipefail
cd "$(dirname "$0")"
HERE="$(pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

BOOTSTRAP=5.3.8
HTMX=2.0.7
SORTABLE=1.15.6
FULLCALENDAR=6.1.19
TABLER_ICONS=3.35.0

fetch() {   # fetch <package> <version> -> unpacks into $WORK/<package>/package
  local name="$1" version="$2" dir="$WORK/${1//\//_}"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$name@$version" >/dev/null && tar xzf ./*.tgz)
  echo "$dir/package"
}

copy() {    # copy <from> <to>
  mkdir -p "$(dirname "$HERE/$2")"
  cp "$1" "$HERE/$2"
}

p=$(fetch bootstrap "$BOOTSTRAP")
copy "$p/dist/css/bootstrap.min.css" bootstrap/bootstrap.min.css
copy "$p/dist/js/bootstrap.bundle.min.js" bootstrap/bootstrap.bundle.min.js
copy "$p/LICENSE" bootstrap/LICENSE

p=$(fetch htmx.org "$HTMX")
copy "$p/dist/htmx.min.js" htmx/htmx.min.js
copy "$p/LICENSE" htmx/LICENSE

p=$(fetch sortablejs "$SORTABLE")
copy "$p/Sortable.min.js" sortablejs/Sortable.min.js
copy "$p/LICENSE" sortablejs/LICENSE

p=$(fetch fullcalendar "$FULLCALENDAR")
copy "$p/index.global.min.js" fullcalendar/index.global.min.js
copy "$p/LICENSE.md" fullcalendar/LICENSE.md
lp=$(fetch @fullcalendar/core "$FULLCALENDAR")
copy "$lp/locales/zh-cn.global.min.js" fullcalendar/locales/zh-cn.global.min.js

p=$(fetch @tabler/icons-webfont "$TABLER_ICONS")
copy "$p/dist/tabler-icons.min.css" tabler-icons/tabler-icons.min.css
copy "$p/dist/fonts/tabler-icons.woff2" tabler-icons/fonts/tabler-icons.woff2
copy "$p/LICENSE" tabler-icons/LICENSE

cat > "$HERE/VENDOR.md" <<MD
# Vendored front-end libraries

Copied unmodified from the npm registry by \`refresh.sh\` (\`npm pack\`); do not edit these files.

| package | version | files | licence |
|---|---|---|---|
| bootstrap | $BOOTSTRAP | bootstrap/ (css, bundle js) | MIT (bootstrap/LICENSE) |
| htmx.org | $HTMX | htmx/htmx.min.js | 0BSD (htmx/LICENSE) |
| sortablejs | $SORTABLE | sortablejs/Sortable.min.js | MIT (sortablejs/LICENSE) |
| fullcalendar (+ @fullcalendar/core locales) | $FULLCALENDAR | fullcalendar/ | MIT (fullcalendar/LICENSE.md) |
| @tabler/icons-webfont | $TABLER_ICONS | tabler-icons/ (css, woff2) | MIT (tabler-icons/LICENSE) |
MD
echo "vendored into $HERE"
