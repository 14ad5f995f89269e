package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/stoaproject/stoa/fn"
)

// maxFunctionBody caps a function create or update: the largest zip,
// base64-encoded, and room for the configuration.
const maxFunctionBody = fn.MaxZipBytes/3*4 + 4 + 1<<20

// functionRequest is the body of POST /functions and PUT
// /functions/{name}: the configuration, and the code as a base64 zip
// (Lambda's CreateFunction carries its ZipFile the same way).
type functionRequest struct {
	Name   string     `json:"name,omitempty"`
	Config *fn.Config `json:"config,omitempty"`
	Code   []byte     `json:"code,omitempty"`
}

// aliasRequest is the body of PUT /functions/{name}/aliases/{alias}.
type aliasRequest struct {
	Version int `json:"version"`
}

func (s *Server) registry() (*fn.Registry, *httpError) {
	if s.Registry == nil {
		return nil, &httpError{status: http.StatusServiceUnavailable, code: CodeUnavailable, message: "this gateway has no function registry"}
	}
	return s.Registry, nil
}

// registryError maps a registry error to its reply. The registry's
// messages are written for users ("in words a user can act on"), so they
// are shown.
func registryError(err error) *httpError {
	var fe *fn.Error
	if !errors.As(err, &fe) {
		return &httpError{status: http.StatusServiceUnavailable, code: CodeUnavailable, message: "the function registry cannot be reached", err: err}
	}
	he := &httpError{code: fe.Code, message: fe.Message, err: err}
	if fe.Function != "" {
		he.message = fe.Function + ": " + fe.Message
	}
	if fe.Field != "" {
		he.message += " (" + fe.Field + ")"
	}
	switch fe.Code {
	case fn.CodeInvalidName, fn.CodeInvalidConfig, fn.CodeInvalidBundle, fn.CodeInvalidAlias, fn.CodeBuildFailed:
		he.status = http.StatusBadRequest
	case fn.CodeBundleTooLarge:
		he.status = http.StatusRequestEntityTooLarge
	case fn.CodeExists, fn.CodeConflict:
		he.status = http.StatusConflict
	case fn.CodeNotFound, fn.CodeVersionNotFound, fn.CodeAliasNotFound:
		he.status = http.StatusNotFound
	default:
		he.status, he.message = http.StatusInternalServerError, "the function registry failed"
	}
	return he
}

// readFunctionRequest reads and strictly decodes a create or update body.
func readFunctionRequest(r *http.Request) (*functionRequest, *httpError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxFunctionBody+1))
	if err != nil {
		return nil, badRequest("could not read the body: %v", err)
	}
	if len(b) > maxFunctionBody {
		return nil, &httpError{status: http.StatusRequestEntityTooLarge, code: fn.CodeBundleTooLarge, message: msgTooLarge}
	}
	var req functionRequest
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		return nil, badRequest("the body is not a function request: %v", err)
	}
	return &req, nil
}

func (s *Server) apiListFunctions(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	fs, err := reg.List(r.Context())
	if err != nil {
		return registryError(err)
	}
	if fs == nil {
		fs = []fn.Function{}
	}
	return writeValue(w, http.StatusOK, fs)
}

func (s *Server) apiCreateFunction(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	req, he := readFunctionRequest(r)
	if he != nil {
		return he
	}
	if req.Config == nil || req.Code == nil {
		return badRequest("creating a function needs its name, config and code")
	}
	if err := s.checkFunctionRoutes(req.Name, req.Config.Routes); err != nil {
		return routeChangeError(err)
	}
	v, err := reg.Create(r.Context(), req.Name, *req.Config, fn.ZipBytes(req.Code))
	if err != nil {
		return registryError(err)
	}
	s.awaitFunctionRoutes(r.Context(), v.Function, v.Config.Routes)
	return writeValue(w, http.StatusCreated, v)
}

func (s *Server) apiGetFunction(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	f, err := reg.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return registryError(err)
	}
	return writeValue(w, http.StatusOK, f)
}

func (s *Server) apiUpdateFunction(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	req, he := readFunctionRequest(r)
	if he != nil {
		return he
	}
	name := r.PathValue("name")
	if req.Name != "" && req.Name != name {
		return badRequest("the body names %q, the URL %q", req.Name, name)
	}
	if req.Config == nil && req.Code == nil {
		return badRequest("an update needs a config, code or both")
	}
	if req.Config != nil {
		if err := s.checkFunctionRoutes(name, req.Config.Routes); err != nil {
			return routeChangeError(err)
		}
	}
	var b fn.Bundle
	if req.Code != nil {
		b = fn.ZipBytes(req.Code)
	}
	v, err := reg.Update(r.Context(), name, req.Config, b)
	if err != nil {
		return registryError(err)
	}
	s.awaitFunctionRoutes(r.Context(), v.Function, v.Config.Routes)
	return writeValue(w, http.StatusOK, v)
}

func (s *Server) apiDeleteFunction(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	if err := reg.Delete(r.Context(), r.PathValue("name")); err != nil {
		return registryError(err)
	}
	s.awaitFunctionRoutes(r.Context(), r.PathValue("name"), nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiListVersions(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	vs, err := reg.Versions(r.Context(), r.PathValue("name"))
	if err != nil {
		return registryError(err)
	}
	if vs == nil {
		vs = []fn.Version{}
	}
	return writeValue(w, http.StatusOK, vs)
}

func (s *Server) apiGetVersion(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n < 1 {
		return badRequest("version %q is not a version number", r.PathValue("version"))
	}
	v, err := reg.Version(r.Context(), r.PathValue("name"), n)
	if err != nil {
		return registryError(err)
	}
	return writeValue(w, http.StatusOK, v)
}

func (s *Server) apiSetAlias(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	b, he := readAPIBody(r)
	if he != nil {
		return he
	}
	var req aliasRequest
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil || req.Version < 1 {
		return badRequest(`the body must be {"version": N}, N ≥ 1`)
	}
	name := r.PathValue("name")
	if err := reg.SetAlias(r.Context(), name, r.PathValue("alias"), req.Version); err != nil {
		return registryError(err)
	}
	f, err := reg.Get(r.Context(), name)
	if err != nil {
		return registryError(err)
	}
	return writeValue(w, http.StatusOK, f)
}

func (s *Server) apiDeleteAlias(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	if err := reg.DeleteAlias(r.Context(), r.PathValue("name"), r.PathValue("alias")); err != nil {
		return registryError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiFunctionRoutes answers the routes the function's latest version
// declares, as this gateway routes by them, once it has taken that
// version: what `stoa fn create --route` prints the URLs of.
func (s *Server) apiFunctionRoutes(w http.ResponseWriter, r *http.Request) *httpError {
	reg, he := s.registry()
	if he != nil {
		return he
	}
	name := r.PathValue("name")
	v, err := reg.Resolve(r.Context(), name, "latest")
	if err != nil {
		return registryError(err)
	}
	s.awaitFunctionRoutes(r.Context(), name, v.Config.Routes)
	t := s.tab.Load()
	list := routeList{Routes: []Route{}, Conflicts: []Conflict{}}
	for _, rt := range t.routes() {
		if rt.Function == name && rt.Source == "function:"+name {
			list.Routes = append(list.Routes, rt)
		}
	}
	for _, c := range t.skipped {
		if c.Route.Function == name && c.Route.Source == "function:"+name {
			list.Conflicts = append(list.Conflicts, c)
		}
	}
	return writeValue(w, http.StatusOK, list)
}

// checkFunctionRoutes checks the routes a function is about to declare
// against the table, as PutRoute checks a stored route: each must take its
// place without duplicating or being ambiguous with another source's route
// (the function's own current routes are left out of the check).
func (s *Server) checkFunctionRoutes(name string, specs []string) error {
	var fresh []Route
	for _, spec := range specs {
		r, err := ParseRoute(spec)
		if err != nil {
			return err
		}
		r.Function, r.Source = name, "function:"+name
		if err := r.Validate(); err != nil {
			return err
		}
		fresh = append(fresh, r)
	}
	s.mu.Lock()
	static := make([]Route, len(s.Routes))
	for i, r := range s.Routes {
		r.Source = "static"
		static[i] = r
	}
	stored := storeRoutes(s.stored)
	var others []Route
	for _, r := range s.fnRoutes {
		if r.Function != name {
			others = append(others, r)
		}
	}
	s.mu.Unlock()
	t := buildTable(static, stored, others, fresh)
	var errs []error
	for _, c := range t.skipped {
		if c.Route.Source == "function:"+name && c.Route.Function == name {
			errs = append(errs, c.err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the function's routes: %w", errors.Join(errs...))
	}
	return nil
}

// routesSettleTimeout bounds how long a function change through the API
// waits for this gateway to route by it.
const routesSettleTimeout = 10 * time.Second

// awaitFunctionRoutes waits until this gateway routes by the function's
// declared routes (each in the table, or left out as a conflict), so that a
// client that created a function can call its URL at once, as after
// claudia create. It waits only when the gateway follows the registry
// itself; other gateways of the mesh follow within moments.
func (s *Server) awaitFunctionRoutes(ctx context.Context, name string, specs []string) {
	if s.Functions != nil || s.Registry == nil {
		return
	}
	want := map[string]bool{}
	for _, spec := range specs {
		if r, err := ParseRoute(spec); err == nil {
			want[r.Key()] = true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, routesSettleTimeout)
	defer cancel()
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if s.routesSettled(name, want) {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			s.log.Warn("gateway: a function's routes did not reach this gateway in time", "function", name, "err", ctx.Err())
			return
		}
	}
}

// routesSettled reports whether the table's routes of function name are
// exactly want (a route left out as a conflict counts as there).
func (s *Server) routesSettled(name string, want map[string]bool) bool {
	t := s.tab.Load()
	got := map[string]bool{}
	for _, e := range t.entries {
		if e.Function == name && e.Source == "function:"+name {
			got[e.Key()] = true
		}
	}
	for _, c := range t.skipped {
		if c.Route.Function == name && c.Route.Source == "function:"+name {
			got[c.Route.Key()] = true
		}
	}
	return maps.Equal(got, want)
}
