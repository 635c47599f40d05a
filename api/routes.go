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
	// Role is the lowest role allowed (rolePublic: no token needed).
	Role Role
	// Expensive routes are rate-limited per token.
	Expensive bool
	handler   http.HandlerFunc
}

func (s *Server) table() []route {
	const cheap, costly = false, true
	return []route{
		{"GET", "/healthz", true, rolePublic, cheap, s.healthz},
		{"GET", "/api/v1/openapi.json", true, rolePublic, cheap, s.openAPI},
		{"POST", "/api/v1/session", true, rolePublic, cheap, s.login},
		{"GET", "/api/v1/session", true, RoleViewer, cheap, s.whoami},
		{"DELETE", "/api/v1/session", true, rolePublic, cheap, s.logout},
		{"GET", "/api/v1/nearmisses", true, RoleViewer, cheap, s.listNearMisses},
		{"GET", "/api/v1/nearmisses/{id}", true, RoleViewer, cheap, s.getNearMiss},
		{"GET", "/api/v1/nearmisses/{id}/snapshot", true, RoleViewer, cheap, s.getSnapshot},
		{"GET", "/api/v1/stats", true, RoleViewer, costly, s.stats},
		{"GET", "/api/v1/heatmap", true, RoleViewer, costly, s.heatmap},
		{"GET", "/api/v1/export.csv", true, RoleAnalyst, costly, s.exportCSV},
		{"GET", "/api/v1/export.geojson", true, RoleAnalyst, costly, s.exportGeoJSON},
		{"GET", "/api/v1/sites", true, RoleViewer, cheap, s.sites},
		{"GET", "/api/v1/sites/{site}/weather", true, RoleViewer, cheap, s.getWeather},
		{"GET", "/api/v1/sites/{site}/movements", true, RoleViewer, costly, s.movements},
		{"POST", "/api/v1/sites/{site}/weather", true, RoleEngineer, cheap, s.setWeather},
		{"GET", "/api/v1/cameras/health", true, RoleViewer, cheap, s.cameraHealth},
		{"GET", "/api/v1/recommendations", true, RoleViewer, cheap, s.listRecommendations},
		{"GET", "/api/v1/recommendations/{id}", true, RoleViewer, cheap, s.getRecommendation},
		{"POST", "/api/v1/recommendations/{id}/approve", true, RoleEngineer, cheap, s.approve},
		{"POST", "/api/v1/recommendations/{id}/reject", true, RoleEngineer, cheap, s.reject},
		{"GET", "/api/v1/live", true, RoleViewer, cheap, s.liveSocket},
		{"GET", "/api/v1/tokens", true, RoleAdmin, cheap, s.listTokens},
		{"POST", "/api/v1/tokens", true, RoleAdmin, cheap, s.createToken},
		{"DELETE", "/api/v1/tokens/{id}", true, RoleAdmin, cheap, s.revokeToken},
		{"GET", "/api/v1/audit", true, RoleAdmin, cheap, s.listAudit},
		{"GET", "/{$}", false, rolePublic, cheap, s.dashboard},
		{"GET", "/static/", false, rolePublic, cheap, s.static},
	}
}
