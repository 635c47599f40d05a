package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// webFS holds the dashboard: plain HTML, CSS and JS modules, plus the
// vendored libraries (web/vendor.sh), so it works without internet.
//
//go:embed web/static
var webFS embed.FS

// openAPIDoc is the hand-written OpenAPI 3 document of the v1 API.
//
//go:embed openapi.json
var openAPIDoc []byte

func staticFS() fs.FS {
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		// The embed directive guarantees the directory exists.
		panic(err)
	}
	return sub
}

// contentSecurityPolicy allows only the dashboard's own scripts and the
// same-origin API and websocket. Leaflet and Chart.js set inline styles.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(staticFS(), "index.html")
	if err != nil {
		s.log.Error("dashboard index missing from the binary", "err", err)
		writeError(w, http.StatusInternalServerError, "", "dashboard not built into this binary")
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-cache")
	http.StripPrefix("/static/", http.FileServerFS(staticFS())).ServeHTTP(w, r)
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPIDoc)
}
