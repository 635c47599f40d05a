package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang/geo/s2"
	"golang.org/x/time/rate"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
	"github.com/intersect-oss/intersect/store/storetest"
)

var t0 = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

// fixture is what newFixture stored.
type fixture struct {
	st    store.Store
	srv   *httptest.Server
	nms   []*events.NearMiss // newest last
	recs  []*events.Recommendation
	api   *Server
	hub   *Hub
	token string
}

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func signedRec(t testing.TB, key ed25519.PrivateKey, site, ctl string, at time.Time) *events.Recommendation {
	t.Helper()
	rate := events.Rate{Name: "right-turn vs pedestrian conflicts per 1000 crossing pedestrians", Count: 14, Exposure: 2300, Value: 6.1, CILow: 3.3, CIHigh: 10.2, CILevel: 0.95}
	cmf := 0.87
	r := &events.Recommendation{
		Header: events.NewHeader(events.KindRecommendation, site, "", at), Rule: "lpi",
		Target:    events.Target{Controller: ctl, Phase: 2, Plan: "am-peak", Window: "weekday 07:00-09:00 America/Denver"},
		Changes:   []events.Change{{Object: "phaseWalk", OID: "1.3.6.1.4.1.1206.4.2.1.1.2.1.2.2", Unit: "s", Current: 7, Proposed: 10}},
		Rationale: "right-turn conflicts with pedestrians above threshold in the morning peak",
		ValidFrom: at, ValidUntil: at.Add(30 * 24 * time.Hour),
		Evidence: events.Evidence{EventIDs: []string{events.NewID()}, Rates: []events.Rate{rate}, From: at.Add(-7 * 24 * time.Hour), To: at},
		Effect:   events.Effect{Description: "fewer pedestrian–vehicle crashes", CMF: &cmf, Source: "FHWA CMF Clearinghouse 9918"},
		State:    events.Proposed,
	}
	if err := r.Sign(key, "k1"); err != nil {
		t.Fatal(err)
	}
	return r
}

// newFixture stores 60 near misses over two sites (deterministic), camera
// health and two proposed recommendations, and serves the API.
func newFixture(t testing.TB, o Options) *fixture {
	t.Helper()
	st := openStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	f := &fixture{st: st}
	var evs []events.Event
	for i := range 60 {
		site := "main-and-5th"
		if i%3 == 0 {
			site = "state-and-400s"
		}
		n := storetest.Synthetic(rng, site, "cam-1", t0.Add(time.Duration(i)*7*time.Minute))
		if i == 5 {
			n.Zone = "=HYPERLINK(\"http://evil\")" // a free-text field the CSV must defuse
		}
		f.nms = append(f.nms, n)
		evs = append(evs, n)
	}
	for i, site := range []string{"main-and-5th", "state-and-400s"} {
		tr := &events.TrackSummary{Header: events.NewHeader(events.KindTrack, site, "cam-1", t0), Track: int64(i + 1), Class: events.Pedestrian,
			Start: t0.Add(-10 * time.Second), End: t0, Frames: 120, DistanceM: 14, MeanSpeedMPS: 1.4}
		evs = append(evs, tr)
		evs = append(evs, &events.CameraHealth{Header: events.NewHeader(events.KindHealth, site, "cam-1", t0), Status: events.CameraOK, Detector: "yolox", FPSIn: 7, FPSOut: 7})
	}
	_, key, _ := ed25519.GenerateKey(nil)
	for i := range 2 {
		r := signedRec(t, key, "main-and-5th", "ctl-1", t0.Add(time.Duration(i)*time.Hour))
		f.recs = append(f.recs, r)
		evs = append(evs, r)
	}
	if _, err := st.Write(context.Background(), store.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	o.Store = st
	if o.Rate == 0 {
		// The table tests fire hundreds of requests; TestRateLimit checks
		// the limit itself.
		o.Rate = rate.Inf
	}
	if !o.Insecure {
		secret, _, err := IssueToken(context.Background(), st, "fixture-admin", RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		f.token = secret
	}
	f.hub = o.Live
	f.api = New(o)
	f.srv = httptest.NewServer(f.api.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// authorize adds the fixture's admin token to req.
func (f *fixture) authorize(req *http.Request) *http.Request {
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	return req
}

func (f *fixture) get(t testing.TB, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(f.authorize(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (f *fixture) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	resp, b := f.get(t, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

func (f *fixture) post(t testing.TB, path, contentType, body string, hdr map[string]string) (int, apiError, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	f.authorize(req)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e apiError
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e, b
}

func TestNearMissesPaginationIsStableAndComplete(t *testing.T) {
	f := newFixture(t, Options{})
	for _, tc := range []struct {
		query string
		want  func(*events.NearMiss) bool
	}{
		{"", func(*events.NearMiss) bool { return true }},
		{"site=state-and-400s", func(n *events.NearMiss) bool { return n.Site == "state-and-400s" }},
		{"severity=critical,serious", func(n *events.NearMiss) bool { return n.Severity != events.Minor }},
		{"type=right-turn-crosswalk", func(n *events.NearMiss) bool { return n.Type == events.RightTurnCrosswalk }},
		{"max_ttc=0.5", func(n *events.NearMiss) bool { return n.MinTTCS != nil && *n.MinTTCS <= 0.5 }},
		{"from=2026-03-10T15:00:00Z&to=2026-03-10T17:00:00Z", func(n *events.NearMiss) bool {
			return !n.Time.Before(t0.Add(time.Hour)) && n.Time.Before(t0.Add(3*time.Hour))
		}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var want []string
			for i := len(f.nms) - 1; i >= 0; i-- { // newest first
				if tc.want(f.nms[i]) {
					want = append(want, f.nms[i].ID)
				}
			}
			if len(want) == 0 {
				t.Fatal("fixture has no matching event; the case tests nothing")
			}
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("pagination does not end")
				}
				q, _ := url.ParseQuery(tc.query)
				q.Set("limit", "7")
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				var page struct {
					Items      []events.NearMiss `json:"items"`
					NextCursor string            `json:"next_cursor"`
				}
				f.getJSON(t, "/api/v1/nearmisses?"+q.Encode(), &page)
				if len(page.Items) > 7 {
					t.Fatalf("page of %d items for limit 7", len(page.Items))
				}
				for _, n := range page.Items {
					got = append(got, n.ID)
				}
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d IDs %v\nwant %d %v", len(got), got, len(want), want)
			}
		})
	}
}

func TestNearMissByID(t *testing.T) {
	f := newFixture(t, Options{})
	want := f.nms[10]
	var got events.NearMiss
	f.getJSON(t, "/api/v1/nearmisses/"+want.ID, &got)
	if got.ID != want.ID || got.Type != want.Type || got.TrackA != want.TrackA {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	resp, b := f.get(t, "/api/v1/nearmisses/"+events.NewID())
	if resp.StatusCode != http.StatusNotFound || !json.Valid(b) {
		t.Fatalf("unknown ID: %d %s", resp.StatusCode, b)
	}
}

func TestStats(t *testing.T) {
	f := newFixture(t, Options{})
	for _, by := range []string{"hour", "weekday", "weather", "type", "severity", "bin60"} {
		var res statsAnswer
		f.getJSON(t, "/api/v1/stats?site=main-and-5th&by="+by, &res)
		want := 0
		for _, n := range f.nms {
			if n.Site == "main-and-5th" {
				want++
			}
		}
		if res.Total != int64(want) || res.By != by {
			t.Errorf("by=%s: total %d by %q, want %d", by, res.Total, res.By, want)
		}
	}
	// Hours: the fixture runs from 14:00 every 7 minutes, 60 events: 14:00..20:53.
	var res statsAnswer
	f.getJSON(t, "/api/v1/stats?by=hour", &res)
	byHour := map[string]int64{}
	for _, g := range res.Groups {
		byHour[g.Key] = g.Count
	}
	want := map[string]int64{}
	for _, n := range f.nms {
		want[fmt.Sprint(n.Time.Hour())]++
	}
	if fmt.Sprint(byHour) != fmt.Sprint(want) {
		t.Fatalf("by hour %v, want %v", byHour, want)
	}
	// Denver is on MDT (UTC−6) from 8 March 2026, so 14:00 UTC is hour 8.
	f.getJSON(t, "/api/v1/stats?by=hour&tz=America/Denver", &res)
	if res.TZ != "America/Denver" || len(res.Groups) == 0 || res.Groups[0].Key != "8" {
		t.Fatalf("Denver hours: %+v", res)
	}
	// Severity groups carry the severity-weighted score.
	f.getJSON(t, "/api/v1/stats?by=severity", &res)
	for _, g := range res.Groups {
		if g.Score != float64(g.Count)*events.Severity(g.Key).Weight() {
			t.Errorf("severity %s: score %v for %d events", g.Key, g.Score, g.Count)
		}
	}
}

func TestHeatmapCellsContainTheirEvents(t *testing.T) {
	f := newFixture(t, Options{})
	for _, tc := range []struct {
		query string
		level int
	}{{"", DefaultHeatmapLevel}, {"level=16", 16}, {"cell_m=150", levelForEdge(150)}, {"site=main-and-5th&level=19", 19}} {
		var fc struct {
			Type     string
			BBox     []float64
			Features []struct {
				Geometry struct {
					Type        string
					Coordinates [][][2]float64
				}
				Properties cellProps
			}
		}
		f.getJSON(t, "/api/v1/heatmap?"+tc.query, &fc)
		if fc.Type != "FeatureCollection" || len(fc.BBox) != 4 {
			t.Fatalf("%s: not a FeatureCollection with bbox: %+v", tc.query, fc)
		}
		counts := map[string]int64{}
		var total int64
		for _, ft := range fc.Features {
			ring := ft.Geometry.Coordinates[0]
			if ft.Geometry.Type != "Polygon" || len(ring) != 5 || ring[0] != ring[4] {
				t.Fatalf("%s: cell %s is not a closed 4-vertex polygon: %v", tc.query, ft.Properties.Token, ring)
			}
			if ft.Properties.Level != tc.level {
				t.Fatalf("%s: level %d, want %d", tc.query, ft.Properties.Level, tc.level)
			}
			counts[ft.Properties.Token] = ft.Properties.Count
			total += ft.Properties.Count
			if ft.Properties.Score != float64(9*ft.Properties.Critical+3*ft.Properties.Serious+ft.Properties.Minor) {
				t.Errorf("cell %s: score %v inconsistent with %+v", ft.Properties.Token, ft.Properties.Score, ft.Properties)
			}
		}
		// Every event lies in the cell at that level that contains it.
		want := map[string]int64{}
		for _, n := range f.nms {
			if strings.Contains(tc.query, "site=") && n.Site != "main-and-5th" {
				continue
			}
			want[s2.CellIDFromLatLng(s2.LatLngFromDegrees(n.Lat, n.Lng)).Parent(tc.level).ToToken()]++
		}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Fatalf("%s: cells %v\nwant %v", tc.query, counts, want)
		}
	}
	if l := levelForEdge(4); l != 21 {
		t.Errorf("levelForEdge(4 m) = %d, want 21", l)
	}
}

func TestExportCSVAndGeoJSON(t *testing.T) {
	f := newFixture(t, Options{})
	resp, b := f.get(t, "/api/v1/export.csv")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], csvHeader) || len(recs) != len(f.nms)+1 {
		t.Fatalf("header %v, %d rows", recs[0], len(recs)-1)
	}
	byID := map[string][]string{}
	for _, r := range recs[1:] {
		byID[r[0]] = r
	}
	evil := byID[f.nms[5].ID]
	if zone := evil[slices.Index(csvHeader, "zone")]; !strings.HasPrefix(zone, "'=") {
		t.Errorf("formula in zone not defused: %q", zone)
	}
	n := f.nms[7]
	row := byID[n.ID]
	if row[slices.Index(csvHeader, "type")] != string(n.Type) || row[slices.Index(csvHeader, "lat")] != fmtF(n.Lat) || row[slices.Index(csvHeader, "min_ttc_s")] != fmtOpt(n.MinTTCS) {
		t.Errorf("row %v does not match %+v", row, n)
	}
	// Filtered, and an empty result is still a header.
	_, b = f.get(t, "/api/v1/export.csv?site=state-and-400s")
	recs, _ = csv.NewReader(bytes.NewReader(b)).ReadAll()
	if len(recs)-1 != 20 {
		t.Errorf("state-and-400s: %d rows, want 20", len(recs)-1)
	}
	_, b = f.get(t, "/api/v1/export.csv?site=nowhere")
	if strings.TrimSpace(string(b)) != strings.Join(csvHeader, ",") {
		t.Errorf("empty export: %q", b)
	}

	resp, b = f.get(t, "/api/v1/export.geojson?severity=critical")
	var fc struct {
		Type     string
		Features []struct {
			ID         string
			Geometry   struct{ Coordinates [2]float64 }
			Properties events.NearMiss
		}
	}
	if err := json.Unmarshal(b, &fc); err != nil || resp.Header.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("%v %s: %.200s", err, resp.Header.Get("Content-Type"), b)
	}
	crit := 0
	for _, n := range f.nms {
		if n.Severity == events.Critical {
			crit++
		}
	}
	if len(fc.Features) != crit || crit == 0 {
		t.Fatalf("%d features, want %d", len(fc.Features), crit)
	}
	for _, ft := range fc.Features {
		p := ft.Properties
		if ft.ID != p.ID || p.Severity != events.Critical || ft.Geometry.Coordinates != [2]float64{p.Lng, p.Lat} {
			t.Fatalf("feature %+v", ft)
		}
	}
	_, b = f.get(t, "/api/v1/export.geojson?site=nowhere")
	if err := json.Unmarshal(b, &fc); err != nil || len(fc.Features) != 0 {
		t.Fatalf("empty GeoJSON export %s: %v", b, err)
	}
}

func TestSitesRankingAndHealth(t *testing.T) {
	f := newFixture(t, Options{})
	var res struct{ Sites []siteAnswer }
	f.getJSON(t, "/api/v1/sites", &res)
	if len(res.Sites) != 2 {
		t.Fatalf("%d sites", len(res.Sites))
	}
	score := map[string]float64{}
	for _, n := range f.nms {
		score[n.Site] += n.Severity.Weight()
	}
	for i, s := range res.Sites {
		if s.Rank != i+1 || s.Score != score[s.Site] || s.WeightedRate == nil || *s.WeightedRate != s.Score*1000/float64(s.Tracks) {
			t.Errorf("site %+v, want score %v", s, score[s.Site])
		}
		if len(s.Cameras) != 1 || s.Cameras[0].Health == nil || s.Cameras[0].Health.Status != events.CameraOK {
			t.Errorf("site %s cameras %+v", s.Site, s.Cameras)
		}
	}
	if *res.Sites[0].WeightedRate < *res.Sites[1].WeightedRate {
		t.Errorf("not ranked by rate: %v < %v", *res.Sites[0].WeightedRate, *res.Sites[1].WeightedRate)
	}
	var h struct{ Cameras []events.CameraHealth }
	f.getJSON(t, "/api/v1/cameras/health?site=state-and-400s", &h)
	if len(h.Cameras) != 1 || h.Cameras[0].Site != "state-and-400s" {
		t.Fatalf("health %+v", h)
	}
}

func TestRecommendationDecisions(t *testing.T) {
	f := newFixture(t, Options{})
	var list struct{ Items []events.Recommendation }
	f.getJSON(t, "/api/v1/recommendations?state=proposed", &list)
	if len(list.Items) != 2 {
		t.Fatalf("%d proposed", len(list.Items))
	}
	a, b := f.recs[0].ID, f.recs[1].ID
	code, e, body := f.post(t, "/api/v1/recommendations/"+a+"/approve", "application/json", `{"by":"j.engineer@city.gov","reason":"matches field observation"}`, nil)
	if code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, body)
	}
	var got recommendationAnswer
	if err := json.Unmarshal(body, &got); err != nil || got.Recommendation.State != events.Approved {
		t.Fatalf("approve answer %s: %v", body, err)
	}
	last := got.Transitions[len(got.Transitions)-1]
	// Who decided is the token's name; the name typed into the form follows.
	if last.From != events.Proposed || last.To != events.Approved || last.By != "fixture-admin (as j.engineer@city.gov)" || last.Why != "matches field observation" {
		t.Fatalf("transition %+v", last)
	}
	var audit struct{ Items []auditEntryAnswer }
	f.getJSON(t, "/api/v1/audit?action=recommendation.approved", &audit)
	if len(audit.Items) != 1 || audit.Items[0].Actor != last.By || audit.Items[0].Target != a || audit.Items[0].Detail != last.Why {
		t.Fatalf("audit log after the approval: %+v", audit.Items)
	}
	// Second decision on the same recommendation: 409.
	code, e, _ = f.post(t, "/api/v1/recommendations/"+a+"/reject", "application/json", `{"by":"other","reason":"no"}`, nil)
	if code != http.StatusConflict || !strings.Contains(e.Error, "approved") {
		t.Fatalf("second decision: %d %+v", code, e)
	}
	// Reject needs a reason.
	code, e, _ = f.post(t, "/api/v1/recommendations/"+b+"/reject", "application/json", `{"by":"j.engineer"}`, nil)
	if code != http.StatusBadRequest || e.Param != "reason" {
		t.Fatalf("reject without reason: %d %+v", code, e)
	}
	code, _, body = f.post(t, "/api/v1/recommendations/"+b+"/reject", "application/json", `{"by":"j.engineer","reason":"LPI already planned"}`, nil)
	if code != http.StatusOK {
		t.Fatalf("reject: %d %s", code, body)
	}
	var one recommendationAnswer
	f.getJSON(t, "/api/v1/recommendations/"+b, &one)
	if one.Recommendation.State != events.Rejected || len(one.Transitions) < 2 {
		t.Fatalf("after reject: %+v", one)
	}
	f.getJSON(t, "/api/v1/recommendations?state=proposed", &list)
	if len(list.Items) != 0 {
		t.Fatalf("%d still proposed", len(list.Items))
	}
	code, _, _ = f.post(t, "/api/v1/recommendations/"+events.NewID()+"/approve", "application/json", `{"by":"x"}`, nil)
	if code != http.StatusNotFound && code != http.StatusConflict {
		t.Fatalf("unknown recommendation: %d", code)
	}
}

// injections are hostile strings tried in every string parameter.
var injections = []string{
	"' OR '1'='1",
	"x'; DROP TABLE near_misses; --",
	"1) UNION SELECT body FROM recommendations --",
	"\"; SELECT pg_sleep(10); --",
	"%27%20OR%201%3D1",
	"<script>alert(1)</script>",
	"../../etc/passwd",
	"\x00",
	strings.Repeat("a", 300),
}

func TestBadInputAnswersNamedErrors(t *testing.T) {
	f := newFixture(t, Options{Live: NewHub(HubOptions{})})
	type tc struct {
		method, path, query string
		code                int
		param               string
	}
	var cases []tc
	params := map[string][]string{
		"/api/v1/nearmisses":      {"site", "camera", "from", "to", "type", "severity", "class", "weather", "max_ttc", "max_pet", "zone", "approach", "limit", "cursor"},
		"/api/v1/stats":           {"site", "camera", "from", "to", "type", "severity", "class", "weather", "max_ttc", "max_pet", "zone", "approach", "by", "tz"},
		"/api/v1/heatmap":         {"site", "type", "weather", "level", "cell_m", "zone", "approach"},
		"/api/v1/export.csv":      {"site", "camera", "from", "type", "class", "zone"},
		"/api/v1/export.geojson":  {"site", "to", "severity", "approach"},
		"/api/v1/sites":           {"from", "to"},
		"/api/v1/cameras/health":  {"site"},
		"/api/v1/recommendations": {"site", "controller", "state", "limit"},
		"/api/v1/live":            {"site", "camera", "type", "min_severity"},
	}
	for path, names := range params {
		for _, name := range names {
			for _, inj := range injections {
				cases = append(cases, tc{"GET", path, url.Values{name: {inj}}.Encode(), 400, name})
			}
		}
		cases = append(cases, tc{"GET", path, "sevrity=critical", 400, "sevrity"})
	}
	cases = append(cases,
		tc{"GET", "/api/v1/nearmisses", "from=yesterday", 400, "from"},
		tc{"GET", "/api/v1/nearmisses", "from=2026-03-10T15:00:00Z&to=2026-03-10T14:00:00Z", 400, "to"},
		tc{"GET", "/api/v1/nearmisses", "limit=1000000", 400, "limit"},
		tc{"GET", "/api/v1/nearmisses", "limit=-1", 400, "limit"},
		tc{"GET", "/api/v1/nearmisses", "site=a&site=b", 400, "site"},
		tc{"GET", "/api/v1/nearmisses", "max_ttc=NaN", 400, "max_ttc"},
		tc{"GET", "/api/v1/nearmisses", "max_pet=1e309", 400, "max_pet"},
		tc{"GET", "/api/v1/nearmisses", "cursor=eyJ0IjoxLCJpZCI6IiJ9", 400, "cursor"},
		tc{"GET", "/api/v1/nearmisses", "severity=critical,bogus", 400, "severity"},
		tc{"GET", "/api/v1/nearmisses", "class=car,pedestrian", 400, "class"},
		tc{"GET", "/api/v1/heatmap", "level=31", 400, "level"},
		tc{"GET", "/api/v1/heatmap", "level=3&cell_m=10", 400, "cell_m"},
		tc{"GET", "/api/v1/stats", "tz=Mars/Olympus", 400, "tz"},
		tc{"GET", "/api/v1/stats", "by=minute", 400, "by"},
		tc{"GET", "/api/v1/nearmisses/" + url.PathEscape("1' OR '1'='1"), "", 400, "id"},
		tc{"GET", "/api/v1/nearmisses/" + strings.Repeat("a", 65) + "/snapshot", "", 400, "id"},
		tc{"GET", "/api/v1/recommendations/" + url.PathEscape("x;DROP TABLE recommendations"), "", 400, "id"},
		tc{"GET", "/api/v1/no-such-thing", "", 404, ""},
		tc{"GET", "/api/v2/nearmisses", "", 404, ""},
		tc{"GET", "/nope", "", 404, ""},
		tc{"DELETE", "/api/v1/nearmisses", "", 405, ""},
		tc{"POST", "/api/v1/nearmisses", "", 405, ""},
		tc{"GET", "/api/v1/recommendations/x/approve", "", 405, ""},
		tc{"GET", "/api/v1/live", "", 400, "Upgrade"},
	)
	for _, c := range cases {
		name := c.method + " " + c.path + "?" + c.query
		req, _ := http.NewRequest(c.method, f.srv.URL+c.path+"?"+c.query, nil)
		resp, err := http.DefaultClient.Do(f.authorize(req))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e apiError
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
			t.Errorf("%.120s: body is not a JSON error: %.200s", name, b)
			continue
		}
		if resp.StatusCode != c.code || e.Param != c.param {
			t.Errorf("%.120s: %d param %q (%s), want %d param %q", name, resp.StatusCode, e.Param, e.Error, c.code, c.param)
		}
		if c.code == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s: 405 without Allow", name)
		}
	}
	// Nothing reached SQL unparameterised: every table still answers and
	// still holds everything.
	var all struct{ Items []events.NearMiss }
	f.getJSON(t, "/api/v1/nearmisses?limit=1000", &all)
	if len(all.Items) != len(f.nms) {
		t.Fatalf("after the injection attempts: %d near misses, want %d", len(all.Items), len(f.nms))
	}
	var recs struct{ Items []events.Recommendation }
	f.getJSON(t, "/api/v1/recommendations", &recs)
	if len(recs.Items) != 2 {
		t.Fatalf("after the injection attempts: %d recommendations", len(recs.Items))
	}
}

func TestDecisionBodyErrors(t *testing.T) {
	f := newFixture(t, Options{AllowedOrigins: []string{"https://ops.example.org"}})
	path := "/api/v1/recommendations/" + f.recs[0].ID + "/approve"
	big := `{"by":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	for _, c := range []struct {
		name, ctype, body string
		hdr               map[string]string
		code              int
		param             string
	}{
		{"oversized", "application/json", big, nil, 413, "body"},
		{"not JSON", "application/json", `by=me`, nil, 400, "body"},
		{"truncated", "application/json", `{"by":"me"`, nil, 400, "body"},
		{"empty", "application/json", ``, nil, 400, "body"},
		{"unknown field", "application/json", `{"by":"me","state":"deployed"}`, nil, 400, "state"},
		{"wrong type", "application/json", `{"by":42}`, nil, 400, "by"},
		{"trailing data", "application/json", `{"by":"me"}{"by":"you"}`, nil, 400, "body"},
		{"control chars", "application/json", `{"by":"me\u0007"}`, nil, 400, "by"},
		{"long reason", "application/json", `{"by":"me","reason":"` + strings.Repeat("r", 2001) + `"}`, nil, 400, "reason"},
		{"form post", "application/x-www-form-urlencoded", `by=me`, nil, 415, "Content-Type"},
		{"no content type", "", `{"by":"me"}`, nil, 415, "Content-Type"},
		{"foreign origin", "application/json", `{"by":"me"}`, map[string]string{"Origin": "https://evil.example.com"}, 403, "Origin"},
	} {
		code, e, b := f.post(t, path, c.ctype, c.body, c.hdr)
		if code != c.code || e.Param != c.param || e.Error == "" {
			t.Errorf("%s: %d param %q, want %d %q: %.200s", c.name, code, e.Param, c.code, c.param, b)
		}
	}
	// None of those changed anything; an allowed foreign origin may decide.
	code, _, b := f.post(t, path, "application/json; charset=utf-8", `{"by":"me"}`, map[string]string{"Origin": "https://ops.example.org"})
	if code != http.StatusOK {
		t.Fatalf("allowed origin: %d %s", code, b)
	}
}

func TestDashboardIsServedWithItsAssets(t *testing.T) {
	f := newFixture(t, Options{})
	resp, b := f.get(t, "/")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `<main class="grid">`) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("/: %d %.100s", resp.StatusCode, b)
	}
	for _, p := range []string{"/static/app.js", "/static/style.css", "/static/vendor/leaflet/leaflet.js", "/static/vendor/chart.js/chart.umd.min.js", "/static/vendor/leaflet/LICENSE"} {
		if resp, b := f.get(t, p); resp.StatusCode != 200 || len(b) < 100 {
			t.Errorf("%s: %d, %d bytes", p, resp.StatusCode, len(b))
		}
	}
	// Every asset the page references is in the binary (no CDN, no internet).
	for _, m := range strings.Split(string(b), `"`) {
		if strings.HasPrefix(m, "http://") || strings.HasPrefix(m, "https://") || strings.HasPrefix(m, "//") {
			t.Errorf("index.html references an outside resource %q", m)
		}
	}
}

func storeBatch(evs ...events.Event) store.Batch { return store.Batch{Events: evs} }

// TestMovements: turning movement counts come from the vehicle track
// summaries of the site and window asked for, grouped by class, approach
// and movement; pedestrians are counted but not as vehicles; a bad window
// is a 400 naming the parameter.
func TestMovements(t *testing.T) {
	f := newFixture(t, Options{})
	var evs []events.Event
	add := func(site string, at time.Time, class events.Class, approach, movement string) {
		evs = append(evs, &events.TrackSummary{Header: events.NewHeader(events.KindTrack, site, "cam-1", at), Track: int64(len(evs) + 100),
			Class: class, Start: at.Add(-5 * time.Second), End: at, Frames: 60, DistanceM: 40, MeanSpeedMPS: 8, Approach: approach, Movement: movement})
	}
	w0 := t0.Add(48 * time.Hour)
	for i := range 3 {
		add("main-and-5th", w0.Add(time.Duration(i)*time.Minute), events.Car, "NB", "right")
	}
	add("main-and-5th", w0.Add(5*time.Minute), events.Bus, "NB", "through")
	add("main-and-5th", w0.Add(6*time.Minute), events.Pedestrian, "", "")
	add("main-and-5th", w0.Add(3*time.Hour), events.Car, "NB", "right")  // after the window
	add("state-and-400s", w0.Add(time.Minute), events.Car, "EB", "left") // another site
	if _, err := f.st.Write(context.Background(), store.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	var res movementsAnswer
	f.getJSON(t, "/api/v1/sites/main-and-5th/movements?from="+w0.Add(-time.Minute).Format(time.RFC3339)+"&to="+w0.Add(time.Hour).Format(time.RFC3339), &res)
	got := map[string]int64{}
	for _, c := range res.Counts {
		got[string(c.Class)+" "+c.Approach+" "+c.Movement] = c.Tracks
	}
	want := map[string]int64{"car NB right": 3, "bus NB through": 1, "pedestrian  ": 1}
	if len(got) != len(want) || res.Vehicles != 4 {
		t.Fatalf("counts %v, vehicles %d; want %v and 4 vehicles", got, res.Vehicles, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d tracks, want %d", k, got[k], n)
		}
	}
	resp, _ := f.get(t, "/api/v1/sites/main-and-5th/movements?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("to before from: %d, want 400", resp.StatusCode)
	}
	resp, _ = f.get(t, "/api/v1/sites/Main%20St/movements")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad site: %d, want 400", resp.StatusCode)
	}
}
