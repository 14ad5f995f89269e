package gateway

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/stoaproject/stoa"
)

// APIPrefix is where the management API is served. Every path under it
// but the OpenAPI document needs the bearer token (Server.Token).
const APIPrefix = "/" + reservedRoot + "/api/v1"

// OpenAPI is the management API's OpenAPI 3 document, served at APIPrefix
// and APIPrefix/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// maxAPIBody caps a management API request body (routes documents and
// invocation payloads).
const maxAPIBody = 6 << 20

// invokeTimeout bounds an invocation through the API: Lambda's longest
// function timeout, with a margin for a cold start.
const invokeTimeout = 15*time.Minute + 30*time.Second

// ErrNoStore is what the route-changing methods return when the server has
// no Store.
var ErrNoStore = errors.New("gateway: no route store (Server.Store is nil)")

// apiRoute is one endpoint of the management API. The test of the OpenAPI
// document checks that this table and the document list the same
// endpoints.
type apiRoute struct {
	method string
	path   string // under APIPrefix, as the OpenAPI document writes it
	public bool   // served without the token
	serve  func(s *Server, w http.ResponseWriter, r *http.Request) *httpError
}

// apiRoutes lists the endpoints (a function, since the handlers refer back
// to the server that builds the table).
func apiRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/", true, (*Server).apiDoc},
		{"GET", "/openapi.json", true, (*Server).apiDoc},
		{"GET", "/routes", false, (*Server).apiListRoutes},
		{"PUT", "/routes", false, (*Server).apiReplaceRoutes},
		{"GET", "/routes/{key}", false, (*Server).apiGetRoute},
		{"PUT", "/routes/{key}", false, (*Server).apiPutRoute},
		{"DELETE", "/routes/{key}", false, (*Server).apiDeleteRoute},
		{"GET", "/functions", false, (*Server).apiListFunctions},
		{"POST", "/functions", false, (*Server).apiCreateFunction},
		{"GET", "/functions/{name}", false, (*Server).apiGetFunction},
		{"PUT", "/functions/{name}", false, (*Server).apiUpdateFunction},
		{"DELETE", "/functions/{name}", false, (*Server).apiDeleteFunction},
		{"GET", "/functions/{name}/versions", false, (*Server).apiListVersions},
		{"GET", "/functions/{name}/versions/{version}", false, (*Server).apiGetVersion},
		{"GET", "/functions/{name}/routes", false, (*Server).apiFunctionRoutes},
		{"PUT", "/functions/{name}/aliases/{alias}", false, (*Server).apiSetAlias},
		{"DELETE", "/functions/{name}/aliases/{alias}", false, (*Server).apiDeleteAlias},
		{"POST", "/functions/{name}/invoke", false, (*Server).apiInvoke},
	}
}

// newAPI builds the management API's handler: the token check, then a
// ServeMux of apiRoutes.
func (s *Server) newAPI() http.Handler {
	mux := http.NewServeMux()
	for _, ar := range apiRoutes() {
		pattern := ar.method + " " + APIPrefix + ar.path
		if ar.path == "/" {
			pattern += "{$}"
		}
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			q := requestOf(r)
			if !ar.public && !s.authorized(r) {
				if s.Token == "" {
					s.writeError(w, q, labelAPI, &httpError{status: http.StatusNotFound, code: CodeRouteNotFound, message: "the management API is off (the gateway has no token)"})
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="stoa"`)
				s.writeError(w, q, labelAPI, &httpError{status: http.StatusUnauthorized, code: CodeUnauthorized, message: msgUnauthorized})
				return
			}
			if he := ar.serve(s, w, r); he != nil {
				s.writeError(w, q, labelAPI, he)
			}
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			q := requestOf(r)
			if s.Token != "" && !s.authorized(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="stoa"`)
				s.writeError(w, q, labelAPI, &httpError{status: http.StatusUnauthorized, code: CodeUnauthorized, message: msgUnauthorized})
				return
			}
			s.writeError(w, q, labelAPI, &httpError{status: http.StatusNotFound, code: CodeNotFound, message: "no such endpoint of the management API; see " + APIPrefix + "/openapi.json"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeValue(w http.ResponseWriter, status int, v any) *httpError {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return &httpError{status: http.StatusInternalServerError, code: CodeBadGateway, message: "cannot encode the reply", err: err}
	}
	writeJSON(w, status, append(b, '\n'))
	return nil
}

func badRequest(format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, code: CodeBadRequest, message: fmt.Sprintf(format, args...)}
}

// readAPIBody reads a management API request body, up to maxAPIBody.
func readAPIBody(r *http.Request) ([]byte, *httpError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err != nil {
		return nil, badRequest("could not read the body: %v", err)
	}
	if len(b) > maxAPIBody {
		return nil, &httpError{status: http.StatusRequestEntityTooLarge, code: CodeTooLarge, message: msgTooLarge}
	}
	return b, nil
}

// routeChangeError maps an error of a route change to its reply.
func routeChangeError(err error) *httpError {
	var re *RouteError
	switch {
	case errors.Is(err, ErrNoStore):
		return &httpError{status: http.StatusServiceUnavailable, code: CodeUnavailable, message: "this gateway has no route store", err: err}
	case errors.Is(err, ErrAmbiguous) || errors.Is(err, ErrDuplicate) || errors.Is(err, errNotStored):
		return &httpError{status: http.StatusConflict, code: CodeConflict, message: err.Error()}
	case errors.Is(err, errNoRoute):
		return &httpError{status: http.StatusNotFound, code: CodeNotFound, message: err.Error()}
	case errors.As(err, &re):
		return badRequest("%v", err)
	}
	return &httpError{status: http.StatusServiceUnavailable, code: CodeUnavailable, message: "the route store cannot be reached", err: err}
}

func (s *Server) apiDoc(w http.ResponseWriter, _ *http.Request) *httpError {
	writeJSON(w, http.StatusOK, OpenAPI)
	return nil
}

// routeList is the reply of GET /routes.
type routeList struct {
	Routes    []Route    `json:"routes"`
	Conflicts []Conflict `json:"conflicts"`
}

func (s *Server) apiListRoutes(w http.ResponseWriter, _ *http.Request) *httpError {
	return writeValue(w, http.StatusOK, routeList{Routes: nonNil(s.RoutesInEffect()), Conflicts: nonNilConflicts(s.Conflicts())})
}

func nonNilConflicts(cs []Conflict) []Conflict {
	if cs == nil {
		return []Conflict{}
	}
	return cs
}

func (s *Server) apiReplaceRoutes(w http.ResponseWriter, r *http.Request) *httpError {
	b, he := readAPIBody(r)
	if he != nil {
		return he
	}
	rs, err := ReadRoutes(bytes.NewReader(b))
	if err != nil {
		return badRequest("%v", err)
	}
	if err := s.ReplaceRoutes(r.Context(), rs); err != nil {
		return routeChangeError(err)
	}
	return writeValue(w, http.StatusOK, routeDoc{Routes: nonNil(rs)})
}

// routeKey reads the {key} of a route endpoint: "GET /users/{id}" (or
// "GET:/users/{id}"), path-escaped.
func routeKey(r *http.Request) (Route, *httpError) {
	rt, err := ParseRoute(r.PathValue("key"))
	if err != nil {
		return Route{}, badRequest("route key %q: want \"METHOD /path\", escaped: %v", r.PathValue("key"), err)
	}
	return rt, nil
}

func (s *Server) apiGetRoute(w http.ResponseWriter, r *http.Request) *httpError {
	k, he := routeKey(r)
	if he != nil {
		return he
	}
	if e := s.tab.Load().byKey[k.Key()]; e != nil {
		return writeValue(w, http.StatusOK, e.Route)
	}
	return &httpError{status: http.StatusNotFound, code: CodeNotFound, message: "no route " + k.Key()}
}

func (s *Server) apiPutRoute(w http.ResponseWriter, r *http.Request) *httpError {
	k, he := routeKey(r)
	if he != nil {
		return he
	}
	b, he := readAPIBody(r)
	if he != nil {
		return he
	}
	rt, err := decodeRouteStrict(b)
	if err != nil {
		return badRequest("the body is not a route: %v", err)
	}
	if rt.Method == "" && rt.Path == "" {
		rt.Method, rt.Path = k.Method, k.Path
	}
	if rt.Key() != k.Key() {
		return badRequest("the body's route %s is not the URL's %s", rt.Key(), k.Key())
	}
	created, err := s.PutRoute(r.Context(), rt)
	if err != nil {
		return routeChangeError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	rt.Method, rt.Source = normMethod(rt.Method), "store"
	return writeValue(w, status, rt)
}

func (s *Server) apiDeleteRoute(w http.ResponseWriter, r *http.Request) *httpError {
	k, he := routeKey(r)
	if he != nil {
		return he
	}
	if err := s.DeleteRoute(r.Context(), k.Key()); err != nil {
		return routeChangeError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiInvoke invokes a function through the mesh, as Lambda's Invoke API
// does: the body is the payload, the reply the function's result. A
// function's own failure (an error it returned or threw, its timeout) is
// answered as Lambda answers it: 200, X-Amz-Function-Error: Unhandled, and
// the error body.
func (s *Server) apiInvoke(w http.ResponseWriter, r *http.Request) *httpError {
	name := r.PathValue("name")
	if !validName(name) {
		return badRequest("%q is not a function name", name)
	}
	qualifier := r.URL.Query().Get("qualifier")
	if qualifier != "" && !validName(qualifier) {
		return badRequest("%q is not an alias or a version", qualifier)
	}
	b, he := readAPIBody(r)
	if he != nil {
		return he
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	if !json.Valid(b) {
		return badRequest("the payload is not JSON")
	}
	ctx, cancel := context.WithTimeout(r.Context(), invokeTimeout)
	defer cancel()
	out, err := s.Engine.Act(ctx, functionMsg(name, qualifier, b))
	if err != nil {
		return invokeError(w, ctx, err)
	}
	res, err := functionResult(out)
	if err != nil {
		return &httpError{status: http.StatusBadGateway, code: CodeBadGateway, message: "the function's reply is not JSON", err: err}
	}
	var version struct {
		Version int `json:"version"`
	}
	if json.Unmarshal(out, &version) == nil && version.Version > 0 {
		w.Header().Set("X-Stoa-Function-Version", fmt.Sprint(version.Version))
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// invokeError answers a failed invocation through the API.
func invokeError(w http.ResponseWriter, ctx context.Context, err error) *httpError {
	var se *stoa.Error
	errors.As(err, &se)
	if se != nil && se.Details["payload"] != nil && ctx.Err() == nil {
		b, merr := json.Marshal(se.Details["payload"])
		if merr == nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			writeJSON(w, http.StatusOK, b)
			return nil
		}
	}
	code := ""
	if se != nil {
		code = se.Code
	}
	he := &httpError{status: http.StatusBadGateway, code: code, message: "the invocation failed", err: err}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || code == stoa.CodeTimeout:
		he.status, he.message = http.StatusGatewayTimeout, "the invocation timed out"
	case code == stoa.CodeNotFound:
		he.status, he.message = http.StatusServiceUnavailable, "no function worker is on the mesh"
	case code == "fn_not_found":
		he.status, he.message = http.StatusNotFound, se.Message
	case code == "fn_throttled":
		he.status, he.message = http.StatusTooManyRequests, se.Message
	case code == "fn_unavailable":
		he.status, he.message = http.StatusServiceUnavailable, se.Message
	case code == stoa.CodeInvalidMsg:
		he.status, he.message = http.StatusBadRequest, se.Message
	}
	if he.code == "" {
		he.code = CodeBadGateway
	}
	return he
}

var (
	errNoRoute   = errors.New("gateway: no such route")
	errNotStored = errors.New("gateway: the route is not in the route store")
)

// storeRoutes gives stored routes their source.
func storeRoutes(rs []Route) []Route {
	out := make([]Route, len(rs))
	for i, r := range rs {
		r.Source = "store"
		r.Method = normMethod(r.Method)
		out[i] = r
	}
	return out
}

// checkStored checks a new set of stored routes against the other sources:
// the routes named in changed (all of next if changed is nil) must each
// take their place in the table, neither duplicating nor ambiguous with
// any other route; routes that were already left out are not the change's
// fault.
func (s *Server) checkStored(next []Route, changed map[string]bool) error {
	for _, r := range next {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	static := make([]Route, len(s.Routes))
	for i, r := range s.Routes {
		r.Source = "static"
		static[i] = r
	}
	fns := s.fnRoutes
	s.mu.Unlock()
	var kept, fresh []Route
	for _, r := range storeRoutes(next) {
		if changed == nil || changed[r.Key()] {
			fresh = append(fresh, r)
		} else {
			kept = append(kept, r)
		}
	}
	t := buildTable(static, kept, fns, fresh)
	var errs []error
	for _, c := range t.skipped {
		if c.Route.Source == "store" && (changed == nil || changed[c.Route.Key()]) {
			errs = append(errs, c.err)
		}
	}
	return errors.Join(errs...)
}

// PutRoute adds r to the route store, or replaces the stored route with its
// key, and reports whether it was new. It fails with ErrDuplicate when
// another source (Server.Routes, a function) routes r's key, with
// ErrAmbiguous when a route of the same shape exists, and with a
// *RouteError when r is invalid; the store is then unchanged. Every
// gateway watching the store takes the change; this one has when PutRoute
// returns (as with AddRoutes, ReplaceRoutes and DeleteRoute).
func (s *Server) PutRoute(ctx context.Context, r Route) (created bool, err error) {
	if err := s.init(); err != nil {
		return false, err
	}
	if s.Store == nil {
		return false, ErrNoStore
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	r.Method, r.Source = normMethod(r.Method), ""
	rev, err := s.Store.Update(ctx, func(cur []Route) ([]Route, error) {
		created = true
		next := make([]Route, 0, len(cur)+1)
		for _, c := range cur {
			if c.Key() == r.Key() {
				created = false
				continue
			}
			next = append(next, c)
		}
		next = append(next, r)
		return next, s.checkStored(next, map[string]bool{r.Key(): true})
	})
	if err != nil {
		return false, err
	}
	s.awaitStored(ctx, rev)
	return created, nil
}

// AddRoutes adds each of rs to the route store, replacing stored routes
// of the same keys and leaving the others, in one change: all or none.
// `stoa gateway --routes FILE` loads a routes file this way, so that every
// gateway started with the file may load it again.
func (s *Server) AddRoutes(ctx context.Context, rs []Route) error {
	if err := s.init(); err != nil {
		return err
	}
	if s.Store == nil {
		return ErrNoStore
	}
	changed := map[string]bool{}
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			return err
		}
		rs[i].Method, rs[i].Source = normMethod(rs[i].Method), ""
		changed[rs[i].Key()] = true
	}
	rev, err := s.Store.Update(ctx, func(cur []Route) ([]Route, error) {
		next := make([]Route, 0, len(cur)+len(rs))
		for _, c := range cur {
			if !changed[c.Key()] {
				next = append(next, c)
			}
		}
		next = append(next, rs...)
		return next, s.checkStored(next, changed)
	})
	if err != nil {
		return err
	}
	s.awaitStored(ctx, rev)
	return nil
}

// ReplaceRoutes makes rs the whole content of the route store, checked as
// PutRoute checks one route.
func (s *Server) ReplaceRoutes(ctx context.Context, rs []Route) error {
	if err := s.init(); err != nil {
		return err
	}
	if s.Store == nil {
		return ErrNoStore
	}
	next := make([]Route, len(rs))
	for i, r := range rs {
		r.Method, r.Source = normMethod(r.Method), ""
		next[i] = r
	}
	rev, err := s.Store.Update(ctx, func([]Route) ([]Route, error) {
		return next, s.checkStored(next, nil)
	})
	if err != nil {
		return err
	}
	s.awaitStored(ctx, rev)
	return nil
}

// DeleteRoute removes the stored route with key ("GET /users/{id}"). A
// route of another source cannot be removed here: change the function or
// the server's configuration instead.
func (s *Server) DeleteRoute(ctx context.Context, key string) error {
	if err := s.init(); err != nil {
		return err
	}
	if s.Store == nil {
		return ErrNoStore
	}
	k, err := ParseRoute(key)
	if err != nil {
		return err
	}
	rev, err := s.Store.Update(ctx, func(cur []Route) ([]Route, error) {
		next := make([]Route, 0, len(cur))
		for _, c := range cur {
			if c.Key() != k.Key() {
				next = append(next, c)
			}
		}
		if len(next) == len(cur) {
			if e := s.tab.Load().byKey[k.Key()]; e != nil {
				return nil, fmt.Errorf("%w: %s comes from %s", errNotStored, k.Key(), e.Source)
			}
			return nil, fmt.Errorf("%w: %s", errNoRoute, k.Key())
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	s.awaitStored(ctx, rev)
	return nil
}
