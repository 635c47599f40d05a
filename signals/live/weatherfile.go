package live

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/signals/weather"
)

// FileWeather is a weather provider reading a file on every poll, so that
// an operator or a cron job can replace it while the advisor runs. The file
// is either an observation event in the wire format (what `intersect
// weather set` prints) or a recorded NWS /observations/latest response.
type FileWeather struct {
	Site string
	Path string
}

// Observe reads and classifies the file.
func (f FileWeather) Observe(ctx context.Context) (*events.WeatherObservation, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("weather file: %w", err)
	}
	// The wire format carries "kind": "weather"; NWS GeoJSON never does.
	if bytes.Contains(b, []byte(`"kind"`)) {
		ev, err := events.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("weather file %s: %w", f.Path, err)
		}
		w, ok := ev.(*events.WeatherObservation)
		if !ok {
			return nil, fmt.Errorf("weather file %s holds a %s event, not a weather observation", f.Path, ev.Head().Kind)
		}
		if w.Site != f.Site {
			return nil, fmt.Errorf("weather file %s is for site %q, not %q", f.Path, w.Site, f.Site)
		}
		return w, ctx.Err()
	}
	return weather.NWSFile{Site: f.Site, Path: f.Path}.Observe(ctx)
}
