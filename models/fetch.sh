#!/bin/sh
# fetch.sh downloads the detector models listed in manifest.yaml into this
# directory and verifies each one's SHA-256 (make models runs it).
#
#   models/fetch.sh            every model in the manifest
#   models/fetch.sh yolox-nano just the named ones
#
# When a download is impossible (no network), it copies the file from the
# team's shared data (SHARED_DATA, default ../shared/data next to the
# repository) if present there with the right checksum. It says which source
# it used. A checksum mismatch deletes the file and fails: a wrong model must
# never sit where the edge worker looks for it.
#
# Environment: SHARED_DATA (see above), MODELS_DIR (where to put the files,
# default this directory), FETCH_OFFLINE=1 (skip the download; tests use it).
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_DATA:-$dir/../../shared/data}
manifest=$dir/manifest.yaml
out=${MODELS_DIR:-$dir}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# One line per model: name file sha256 size_bytes source_url shared_path.
entries=$(awk '
  function flush() { if (name != "") print name, file, sha, size, url, shared; name=file=sha=size=url=shared="" }
  /^  - name:/      { flush(); name=$3; next }
  /^    file:/        { file=$2 }
  /^    sha256:/      { sha=$2 }
  /^    size_bytes:/  { size=$2 }
  /^    source_url:/  { url=$2 }
  /^    shared_path:/ { shared=$2 }
  END { flush() }' "$manifest")

if [ -z "$entries" ]; then
	echo "fetch.sh: no models found in $manifest" >&2
	exit 1
fi

want=" $* "
failed=0
found=0
echo "$entries" | {
while read -r name file sha size url sharedpath; do
	if [ $# -gt 0 ] && [ "${want#* $name }" = "$want" ]; then
		continue
	fi
	found=$((found + 1))
	dest=$out/$file
	if [ -f "$dest" ] && [ "$(sha256 "$dest")" = "$sha" ]; then
		echo "$name: $file already present, sha256 ok"
		continue
	fi
	tmp=$dest.part
	rm -f "$tmp"
	source=""
	if [ "${FETCH_OFFLINE:-}" != 1 ] && command -v curl >/dev/null 2>&1 && curl -fsSL --connect-timeout 10 --max-time 300 -o "$tmp" "$url" 2>/dev/null; then
		source="downloaded from $url"
	elif [ -n "$sharedpath" ] && [ -f "$shared/$sharedpath" ]; then
		rm -f "$tmp"
		cp "$shared/$sharedpath" "$tmp"
		chmod 644 "$tmp"
		source="download impossible; copied from $shared/$sharedpath"
	else
		rm -f "$tmp"
		echo "$name: cannot download $url and no shared copy at $shared/$sharedpath" >&2
		failed=1
		continue
	fi
	got=$(sha256 "$tmp")
	gotsize=$(wc -c <"$tmp" | tr -d ' ')
	if [ "$got" != "$sha" ] || [ "$gotsize" != "$size" ]; then
		rm -f "$tmp" "$dest"
		echo "$name: checksum mismatch ($source): sha256 $got size $gotsize, manifest says sha256 $sha size $size; deleted" >&2
		failed=1
		continue
	fi
	mv "$tmp" "$dest"
	echo "$name: $file $source, sha256 ok"
done
if [ "$found" -eq 0 ]; then
	echo "fetch.sh: none of [$*] is in $manifest" >&2
	exit 1
fi
exit $failed
}
