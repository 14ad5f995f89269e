package gateway

import (
	"net/http"
	"strconv"
	"strings"
)

// allowOrigin returns the Access-Control-Allow-Origin value for origin, or
// "" if c does not allow it. With credentials the origin is echoed, since
// browsers refuse "*" then.
func (c *CORS) allowOrigin(origin string) string {
	for _, o := range c.AllowOrigins {
		switch {
		case o == "*" && !c.AllowCredentials:
			return "*"
		case o == "*" || strings.EqualFold(o, origin):
			return origin
		}
	}
	return ""
}

// corsHeaders adds the headers of an actual (not preflight) request's
// reply, when the origin is allowed.
func corsHeaders(h http.Header, c *CORS, origin string) {
	h.Add("Vary", "Origin")
	ao := c.allowOrigin(origin)
	if ao == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", ao)
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ", "))
	}
}

// preflight answers a CORS preflight request for e's route itself, with 204:
// with the Access-Control-Allow-* headers when the origin is allowed,
// without them (so the browser refuses) when it is not.
func preflight(w http.ResponseWriter, e *entry, origin string, r *http.Request) int {
	c := e.CORS
	h := w.Header()
	h.Add("Vary", "Origin")
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	if ao := c.allowOrigin(origin); ao != "" {
		h.Set("Access-Control-Allow-Origin", ao)
		methods := c.AllowMethods
		if len(methods) == 0 {
			if e.Method == MethodAny {
				methods = allMethods
			} else {
				methods = []string{e.Method}
			}
		}
		h.Set("Access-Control-Allow-Methods", strings.ToUpper(strings.Join(methods, ", ")))
		if len(c.AllowHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ", "))
		} else if want := r.Header.Get("Access-Control-Request-Headers"); want != "" {
			h.Set("Access-Control-Allow-Headers", want)
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
		}
	}
	h["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

// allMethods is what a preflight for an ANY route allows.
var allMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
