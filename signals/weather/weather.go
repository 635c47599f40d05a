// Package weather gets the road weather the signal advisor plans for: one
// Provider interface, a parser for the US National Weather Service API
// observation JSON (/stations/{id}/observations/latest), a manual provider
// for demos and operators, and the classification of an observation into
// dry / wet / snow / ice / fog.
package weather

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// Provider returns the current weather observation for a site.
type Provider interface {
	Observe(ctx context.Context) (*events.WeatherObservation, error)
}

// Manual is a provider whose condition an operator sets (intersect weather
// set --condition snow) or a demo scripts.
type Manual struct {
	Site      string
	Condition events.Condition
	Now       func() time.Time
}

// Observe returns the set condition.
func (m Manual) Observe(ctx context.Context) (*events.WeatherObservation, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	o := &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, m.Site, "", now()), Condition: m.Condition, Source: "manual"}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return o, ctx.Err()
}

// NWSFile is a provider reading a recorded NWS observation JSON file (what
// `curl https://api.weather.gov/stations/KSLC/observations/latest` saves).
type NWSFile struct {
	Site string
	Path string
}

// Observe parses the file.
func (f NWSFile) Observe(ctx context.Context) (*events.WeatherObservation, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("weather: %w", err)
	}
	o, err := ParseNWS(b, f.Site)
	if err != nil {
		return nil, fmt.Errorf("weather file %s: %w", f.Path, err)
	}
	return o, ctx.Err()
}

// quantity is the NWS API's {"unitCode": "wmoUnit:degC", "value": -2.2};
// value is null when the station did not report it.
type quantity struct {
	UnitCode string   `json:"unitCode"`
	Value    *float64 `json:"value"`
}

// unit strips the vocabulary prefix: the API wrote "unit:degC" until 2020
// and "wmoUnit:degC" since.
func (q quantity) unit() string {
	if i := strings.IndexByte(q.UnitCode, ':'); i >= 0 {
		return q.UnitCode[i+1:]
	}
	return q.UnitCode
}

type presentWeather struct {
	Intensity  *string `json:"intensity"`
	Modifier   *string `json:"modifier"`
	Weather    string  `json:"weather"`
	RawString  string  `json:"rawString"`
	InVicinity *bool   `json:"inVicinity"`
}

type nwsObservation struct {
	Properties *struct {
		Station               string           `json:"station"`
		Timestamp             time.Time        `json:"timestamp"`
		TextDescription       string           `json:"textDescription"`
		PresentWeather        []presentWeather `json:"presentWeather"`
		Temperature           quantity         `json:"temperature"`
		Visibility            quantity         `json:"visibility"`
		WindSpeed             quantity         `json:"windSpeed"`
		PrecipitationLastHour quantity         `json:"precipitationLastHour"`
	} `json:"properties"`
}

// Observation is a parsed NWS observation before classification.
type Observation struct {
	Station      string
	Time         time.Time
	Text         string
	Weather      []string // presentWeather[].weather, e.g. "snow", "freezing_rain", "fog_mist"
	Raw          []string // presentWeather[].rawString, METAR codes like "-SN"
	TempC        *float64
	PrecipMMPerH *float64
	VisibilityM  *float64
	WindMPS      *float64
}

// ParseNWS parses one NWS API observation (a GeoJSON Feature) and
// classifies it into an events.WeatherObservation for site.
func ParseNWS(data []byte, site string) (*events.WeatherObservation, error) {
	o, err := DecodeNWS(data)
	if err != nil {
		return nil, err
	}
	station := o.Station
	if i := strings.LastIndexByte(station, '/'); i >= 0 {
		station = station[i+1:]
	}
	w := &events.WeatherObservation{
		Header:    events.NewHeader(events.KindWeather, site, "", o.Time),
		Condition: Classify(o), Source: "nws:" + station, Text: o.Text,
		TempC: o.TempC, PrecipMMPerH: o.PrecipMMPerH, VisibilityM: o.VisibilityM, WindMPS: o.WindMPS,
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return w, nil
}

// DecodeNWS decodes the observation and converts its values to °C, mm/h,
// m and m/s. A unit it does not know is an error naming the field, never a
// silent misreading.
func DecodeNWS(data []byte) (Observation, error) {
	var raw nwsObservation
	if err := json.Unmarshal(data, &raw); err != nil {
		return Observation{}, fmt.Errorf("NWS observation JSON: %w", err)
	}
	p := raw.Properties
	if p == nil {
		return Observation{}, fmt.Errorf("NWS observation: no properties object (is this a /observations/latest response?)")
	}
	if p.Timestamp.IsZero() {
		return Observation{}, fmt.Errorf("NWS observation: properties.timestamp is missing")
	}
	o := Observation{Station: p.Station, Time: p.Timestamp.UTC(), Text: p.TextDescription}
	for _, w := range p.PresentWeather {
		o.Weather = append(o.Weather, w.Weather)
		o.Raw = append(o.Raw, w.RawString)
	}
	var err error
	conv := func(field string, q quantity, units map[string]float64, off float64) *float64 {
		if q.Value == nil || err != nil {
			return nil
		}
		f, ok := units[q.unit()]
		if !ok {
			err = fmt.Errorf("NWS observation: properties.%s.unitCode %q is not a unit this parser knows", field, q.UnitCode)
			return nil
		}
		v := *q.Value*f + off
		return &v
	}
	if q := p.Temperature; q.unit() == "degF" && q.Value != nil {
		v := (*q.Value - 32) * 5 / 9
		o.TempC = &v
	} else {
		o.TempC = conv("temperature", q, map[string]float64{"degC": 1}, 0)
	}
	o.PrecipMMPerH = conv("precipitationLastHour", p.PrecipitationLastHour, map[string]float64{"mm": 1, "m": 1000}, 0)
	o.VisibilityM = conv("visibility", p.Visibility, map[string]float64{"m": 1, "km": 1000}, 0)
	o.WindMPS = conv("windSpeed", p.WindSpeed, map[string]float64{"m_s-1": 1, "km_h-1": 1 / 3.6}, 0)
	return o, err
}

// Thresholds of Classify.
const (
	// FogVisibilityM: fog is visibility below 1 km (WMO No. 306 / METAR
	// FG; above it the same obscuration is mist, BR).
	FogVisibilityM = 1000.0
	// WetPrecipMM: 0.25 mm (0.01 in) in the last hour, the smallest amount
	// ASOS reports as measurable precipitation.
	WetPrecipMM = 0.25
	// FreezingC: at or below 0 °C falling or lying water is taken as ice.
	FreezingC = 0.0
)

// Classify maps an observation to the advisor's road-weather classes,
// worst surface first:
//
//   - ice: freezing rain or drizzle, ice pellets or hail reported, or
//     measurable precipitation or rain at or below 0 °C;
//   - snow: any snow form reported (snow, snow grains, snow pellets, blowing
//     snow) above the ice cases;
//   - wet: rain, drizzle, showers or thunderstorms reported, or at least
//     0.25 mm of precipitation in the last hour;
//   - fog: visibility below 1 km, or fog reported;
//   - dry: none of the above (also when every value is null).
func Classify(o Observation) events.Condition {
	has := func(keys ...string) bool {
		for _, w := range o.Weather {
			for _, k := range keys {
				if strings.Contains(w, k) {
					return true
				}
			}
		}
		return false
	}
	cold := o.TempC != nil && *o.TempC <= FreezingC
	precip := o.PrecipMMPerH != nil && *o.PrecipMMPerH >= WetPrecipMM
	rain := has("rain", "drizzle", "thunderstorm", "showers") && !has("snow")
	switch {
	case has("freezing", "ice_pellets", "hail"), cold && (rain || (precip && !has("snow"))):
		return events.Ice
	case has("snow"):
		return events.Snow
	case rain, precip:
		return events.Wet
	case o.VisibilityM != nil && *o.VisibilityM < FogVisibilityM, has("fog") && !has("fog_mist"):
		return events.Fog
	}
	return events.Dry
}
