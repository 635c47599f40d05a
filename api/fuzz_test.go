package api

import (
	"net/url"
	"testing"

	"github.com/intersect-oss/intersect/store"
)

// FuzzParseQuery feeds arbitrary query strings to the near-miss query
// parser: it must never panic, and whatever it accepts must be a filter the
// store accepts too (so a 400 is always the API's, never the database's).
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"site=main-and-5th&from=2026-11-26T08:00:00Z&to=2026-11-27T08:00:00Z&limit=50",
		"type=right-turn-crosswalk,left-turn-crosswalk&severity=critical&class=pedestrian",
		"max_ttc=1.5&max_pet=2&weather=snow&approach=NB&zone=crosswalk-n",
		"site=x'%20OR%201=1--&limit=-1",
		"max_ttc=NaN&max_pet=1e309",
		"from=2026-13-45T99:00:00Z",
		"type=%00&type=%ff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, perr := parseNearMissQuery(v)
		if perr != nil {
			if perr.Param == "" || perr.Msg == "" {
				t.Fatalf("error without a parameter or message: %+v", perr)
			}
			return
		}
		if err := q.Filter.Validate(); err != nil {
			t.Fatalf("API accepted %q but the store refuses it: %v", raw, err)
		}
		if q.Limit < 0 || q.Limit > store.MaxLimit {
			t.Fatalf("accepted limit %d", q.Limit)
		}
	})
}
