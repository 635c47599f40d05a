package events

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, and what
// it accepts must encode and decode again to the same event.
func FuzzDecode(f *testing.F) {
	nm, _ := json.Marshal(validNearMiss())
	f.Add(nm)
	h, _ := json.Marshal(&CameraHealth{Header: NewHeader(KindHealth, "s", "c", time.Unix(0, 1)), Status: CameraOK})
	f.Add(h)
	f.Add([]byte(`{"schema":1,"kind":"weather","id":"0190e0a0-0000-7000-8000-000000000000","site":"s","time":"2026-01-01T00:00:00Z","condition":"snow","source":"manual"}`))
	f.Add([]byte(`{"schema":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(ev)
		if err != nil {
			t.Fatalf("accepted event does not encode: %v\ninput: %s", err, data)
		}
		ev2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, again)
		}
		if ev2.Head().ID != ev.Head().ID || ev2.Head().Kind != ev.Head().Kind {
			t.Fatalf("round trip changed the header: %+v vs %+v", ev.Head(), ev2.Head())
		}
		third, _ := Encode(ev2)
		if !bytes.Equal(third, again) {
			t.Fatalf("encoding is not stable:\n%s\n%s", again, third)
		}
	})
}
