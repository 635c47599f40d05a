package calib

import "math"

// earthRadiusM is the WGS84 mean radius used by the equirectangular
// projection. The projection treats the ground near the origin as flat; over
// 500 m its distance error stays below a millimetre per metre of offset
// from the origin's latitude band, which is negligible next to calibration
// error.
const earthRadiusM = 6371008.8

// LatLng is a WGS84 position in degrees.
type LatLng struct{ Lat, Lng float64 }

// Valid reports whether the position is a real latitude/longitude.
func (p LatLng) Valid() bool {
	return !math.IsNaN(p.Lat) && !math.IsNaN(p.Lng) && p.Lat >= -90 && p.Lat <= 90 && p.Lng >= -180 && p.Lng <= 180
}

// Projection converts between local ground metres (x east, y north) around
// Origin and WGS84.
type Projection struct {
	Origin LatLng
}

// ToLatLng maps local metres to WGS84.
func (p Projection) ToLatLng(xM, yM float64) LatLng {
	lat0 := p.Origin.Lat * math.Pi / 180
	dLat := yM / earthRadiusM
	dLng := xM / (earthRadiusM * math.Cos(lat0))
	return LatLng{Lat: p.Origin.Lat + dLat*180/math.Pi, Lng: p.Origin.Lng + dLng*180/math.Pi}
}

// ToLocal maps WGS84 to local metres.
func (p Projection) ToLocal(ll LatLng) (xM, yM float64) {
	lat0 := p.Origin.Lat * math.Pi / 180
	xM = (ll.Lng - p.Origin.Lng) * math.Pi / 180 * earthRadiusM * math.Cos(lat0)
	yM = (ll.Lat - p.Origin.Lat) * math.Pi / 180 * earthRadiusM
	return xM, yM
}
