package api

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// flushEvery is how many rows an export writes between flushes: often
// enough that a client sees progress, rarely enough to stay cheap.
const flushEvery = 1000

// csvHeader is the near-miss export's columns: the conflict CSV of
// DESIGN.md plus where and when it happened.
var csvHeader = []string{
	"id", "site", "camera", "time", "track_a", "class_a", "track_b", "class_b", "start", "end",
	"min_ttc_s", "pet_s", "max_drac_mps2", "min_distance_m", "speed_a_mps", "speed_b_mps", "angle_deg",
	"type", "severity", "x_m", "y_m", "lat", "lng", "zone", "approach", "movement", "weather", "snapshot",
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func fmtOpt(v *float64) string {
	if v == nil {
		return ""
	}
	return fmtF(*v)
}

// cell guards free-text columns against spreadsheet formula injection
// (OWASP: CSV injection) by prefixing a quote to a leading =, +, - or @.
func cell(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

func csvRecord(n *events.NearMiss, rec []string) []string {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	return append(rec[:0],
		n.ID, n.Site, n.Camera, ts(n.Time),
		strconv.FormatInt(n.TrackA, 10), string(n.ClassA), strconv.FormatInt(n.TrackB, 10), string(n.ClassB),
		ts(n.Start), ts(n.End),
		fmtOpt(n.MinTTCS), fmtOpt(n.PETS), fmtOpt(n.MaxDRACMPS2), fmtF(n.MinDistanceM),
		fmtF(n.SpeedAMPS), fmtF(n.SpeedBMPS), fmtF(n.AngleDeg),
		string(n.Type), string(n.Severity), fmtF(n.XM), fmtF(n.YM), fmtF(n.Lat), fmtF(n.Lng),
		cell(n.Zone), cell(n.Approach), cell(n.Movement), cell(n.Weather), cell(n.SnapshotKey))
}

// exportQuery parses the shared filters of both exports (no limit, no cursor:
// an export is every matching row).
func exportQuery(w http.ResponseWriter, r *http.Request) (store.NearMissQuery, bool) {
	p := &params{v: r.URL.Query()}
	q := store.NearMissQuery{Filter: p.filter()}
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return q, false
	}
	return q, true
}

// streamer writes an export, committing the status line only with the
// first row so that an error before any row is still a proper JSON error.
type streamer struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	bw          *bufio.Writer
	contentType string
	filename    string
	started     bool
	rows        int
}

func newStreamer(w http.ResponseWriter, contentType, filename string) *streamer {
	return &streamer{w: w, rc: http.NewResponseController(w), contentType: contentType, filename: filename}
}

func (st *streamer) start() {
	if st.started {
		return
	}
	st.started = true
	h := st.w.Header()
	h.Set("Content-Type", st.contentType)
	h.Set("Content-Disposition", `attachment; filename="`+st.filename+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	st.w.WriteHeader(http.StatusOK)
	st.bw = bufio.NewWriterSize(st.w, 32<<10)
}

// row is called after each row is written; it flushes periodically.
func (st *streamer) row() error {
	st.rows++
	if st.rows%flushEvery == 0 {
		if err := st.bw.Flush(); err != nil {
			return err
		}
		if err := st.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	return nil
}

// fail ends an export that went wrong. Before the first row it is an
// ordinary error answer; after it the connection is aborted so the client
// sees a truncated transfer rather than a file that looks complete.
func (s *Server) failExport(st *streamer, w http.ResponseWriter, r *http.Request, err error) {
	if !st.started {
		s.storeError(w, r, err)
		return
	}
	s.log.Error("export aborted", "path", r.URL.Path, "rows", st.rows, "err", err)
	panic(http.ErrAbortHandler)
}

func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) {
	q, ok := exportQuery(w, r)
	if !ok {
		return
	}
	st := newStreamer(w, "text/csv; charset=utf-8", "nearmisses.csv")
	var cw *csv.Writer
	rec := make([]string, 0, len(csvHeader))
	begin := func() error {
		st.start()
		cw = csv.NewWriter(st.bw)
		return cw.Write(csvHeader)
	}
	err := s.store.ExportNearMisses(r.Context(), q, func(n *events.NearMiss) error {
		if !st.started {
			if err := begin(); err != nil {
				return err
			}
		}
		rec = csvRecord(n, rec)
		if err := cw.Write(rec); err != nil {
			return err
		}
		if st.rows%flushEvery == flushEvery-1 {
			cw.Flush()
		}
		return st.row()
	})
	if err == nil && !st.started {
		err = begin() // no rows: the header alone
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err == nil {
		err = st.bw.Flush()
	}
	if err != nil {
		s.failExport(st, w, r, err)
	}
}

func (s *Server) exportGeoJSON(w http.ResponseWriter, r *http.Request) {
	q, ok := exportQuery(w, r)
	if !ok {
		return
	}
	st := newStreamer(w, "application/geo+json", "nearmisses.geojson")
	begin := func() error {
		st.start()
		_, err := st.bw.WriteString(`{"type":"FeatureCollection","features":[` + "\n")
		return err
	}
	err := s.store.ExportNearMisses(r.Context(), q, func(n *events.NearMiss) error {
		if !st.started {
			if err := begin(); err != nil {
				return err
			}
		} else if err := st.bw.WriteByte(','); err != nil {
			return err
		}
		b, err := json.Marshal(feature{
			Type: "Feature", ID: n.ID,
			Geometry:   geometry{Type: "Point", Coordinates: [2]float64{n.Lng, n.Lat}},
			Properties: n,
		})
		if err != nil {
			return err
		}
		if _, err := st.bw.Write(append(b, '\n')); err != nil {
			return err
		}
		return st.row()
	})
	if err == nil && !st.started {
		err = begin()
	}
	if err == nil {
		_, err = st.bw.WriteString("]}\n")
	}
	if err == nil {
		err = st.bw.Flush()
	}
	if err != nil {
		s.failExport(st, w, r, err)
	}
}
