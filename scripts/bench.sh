#!/bin/sh
# make bench: the figures the issues ask for, section by section. Speed
# figures come from Go benchmarks (testing.B with ReportMetric), one
# iteration each (-benchtime 1x): every benchmark op is a whole workload
# (a loop of a video, 50,000 events, a full MOT15 pass), so one is a real
# measurement. Quote medians of several runs when the machine is busy.
#
# PostgreSQL figures need a database: INTERSECT_TEST_PG, or the local test
# database when one answers on 127.0.0.1:5432. Real-data figures need
# ../shared/data (they are skipped, with a message, when it is absent).
set -eu
GO=${GO:-go}
if [ -z "${INTERSECT_TEST_PG:-}" ] && command -v pg_isready >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q; then
  export INTERSECT_TEST_PG="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT

section() { printf '\n== %s\n' "$1"; }
bench() { # bench PATTERN PACKAGE: run and print the figures, keep them in $out
  $GO test -run '^$' -bench "$1" -benchtime 1x -timeout 60m "$2" 2>&1 \
    | grep -v -e '^goos:' -e '^goarch:' -e '^pkg:' -e '^cpu:' -e '^PASS' -e '^ok ' | tee -a "$out"
}
metric() { # metric BENCHNAME UNIT: the value of one reported metric
  awk -v b="$1" -v u="$2" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 3; i < NF; i++) if ($(i+1) == u) print $i }' "$out" | tail -n 1
}

section "Foundation (issue 2): ingest, publish → committed row, both backends"
bench 'BenchmarkIngest$' ./ingest

section "Edge (issue 3): decode-only, detector-only, full pipeline on vtest.avi; memory over 10 minutes"
bench 'BenchmarkDecode$|BenchmarkDetectorOnly$|BenchmarkPipeline$|BenchmarkPipelineMemory10Min$' ./edge
det=$(metric BenchmarkDetectorOnly frames/s); full=$(metric BenchmarkPipeline/yolox frames/s)
if [ -n "$det" ] && [ -n "$full" ]; then
  awk -v f="$full" -v d="$det" 'BEGIN { printf "full pipeline / detector-only (YOLOX-nano) = %.2f (target >= 0.9)\n", f / d }'
fi
section "Edge (issue 3): detection quality on PETS09-S2L1 and the other detectors"
bench 'BenchmarkYOLOXQualityPETS$|BenchmarkFastestDet$|BenchmarkMotion$' ./edge/detect

section "Tracker (issue 4): MOT15 quality (HOTA/MOTA/IDF1/IDsw) and speed"
bench 'BenchmarkMOT15$|BenchmarkTrackerAssociation$|BenchmarkGroundFilter$' ./tracker
section "Conflict engine (issue 4): frames/s at 10, 100, 400 road users"
bench 'BenchmarkEngine' ./tracker/conflict

section "Advisor (issue 5)"
bench 'BenchmarkEvaluate$' ./signals
bench 'BenchmarkEvaluate$|BenchmarkHistoryAdd$' ./signals/live

section "API (issue 6): queries on PostgreSQL, CSV export memory, websocket fan-out p99"
bench 'BenchmarkPG$|BenchmarkLiveFanout$' ./api

section "Scale (issue 8): sustained ingest vs bare CopyFrom, memory under a 10x backlog"
bench 'BenchmarkCopyFromBaseline$|BenchmarkIngestMemoryBacklog$' ./ingest
bench 'BenchmarkWritePostgres$|BenchmarkBareCopyPostgres$|BenchmarkQueriesPostgres$' ./store

section "Demo intersection (issue 9): render speed and end-to-end accuracy against exact truth"
bench 'BenchmarkRender$' ./samples/twin
bench 'BenchmarkEndToEndAccuracy$' ./samples/twin/accuracy
