package api

import "net/http"

// route is one entry of the routing table. The same table registers the
// handlers (routes) and is compared with openapi.json by the tests.
type route struct {
	Method  string
	Pattern string // net/http pattern, also the OpenAPI path ({id} style)
	// Documented routes appear in openapi.json; the dashboard's HTML and
	// assets do not.
	Documented bool
	handler    http.HandlerFunc
}

func (s *Server) table() []route {
	return []route{
		{"GET", "/healthz", true, s.healthz},
		{"GET", "/api/v1/openapi.json", true, s.openAPI},
		{"GET", "/api/v1/nearmisses", true, s.listNearMisses},
		{"GET", "/api/v1/nearmisses/{id}", true, s.getNearMiss},
		{"GET", "/api/v1/nearmisses/{id}/snapshot", true, s.getSnapshot},
		{"GET", "/api/v1/stats", true, s.stats},
		{"GET", "/api/v1/heatmap", true, s.heatmap},
		{"GET", "/api/v1/export.csv", true, s.exportCSV},
		{"GET", "/api/v1/export.geojson", true, s.exportGeoJSON},
		{"GET", "/api/v1/sites", true, s.sites},
		{"GET", "/api/v1/sites/{site}/weather", true, s.getWeather},
		{"POST", "/api/v1/sites/{site}/weather", true, s.setWeather},
		{"GET", "/api/v1/cameras/health", true, s.cameraHealth},
		{"GET", "/api/v1/recommendations", true, s.listRecommendations},
		{"GET", "/api/v1/recommendations/{id}", true, s.getRecommendation},
		{"POST", "/api/v1/recommendations/{id}/approve", true, s.approve},
		{"POST", "/api/v1/recommendations/{id}/reject", true, s.reject},
		{"GET", "/api/v1/live", true, s.liveSocket},
		{"GET", "/{$}", false, s.dashboard},
		{"GET", "/static/", false, s.static},
	}
}
