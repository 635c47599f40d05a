#!/bin/sh
# vendor.sh copies the pinned browser libraries (package-lock.json) from
# node_modules into static/vendor/, which is committed and embedded in the
# binary so the dashboard works without internet and without npm at build
# time. Run it after changing a version: npm ci && sh vendor.sh
set -eu
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund
out=static/vendor
rm -rf "$out"
mkdir -p "$out/leaflet/images" "$out/chart.js"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$out/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$out/leaflet/images/"
cp node_modules/leaflet/LICENSE "$out/leaflet/LICENSE"
cp node_modules/chart.js/dist/chart.umd.min.js "$out/chart.js/"
cp node_modules/chart.js/LICENSE.md "$out/chart.js/LICENSE.md"
# Record exactly what was copied, for reviewers and licence audits.
for p in leaflet chart.js; do
	node -e "const p=require('./node_modules/$p/package.json');console.log(p.name+' '+p.version+' '+p.license)"
done >"$out/VERSIONS"
echo "vendored into $out:"; cat "$out/VERSIONS"
