package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/gateway"
)

// fnBackend is what the fn commands do with functions: through the
// function registry over NATS (registryBackend), or through a gateway's
// management API (apiClient) when given --gateway. Both give the same
// results, so a command cannot tell which it has.
type fnBackend interface {
	create(ctx context.Context, name string, cfg fn.Config, bundle string) (*fn.Version, error)
	// update deploys a new version: cfg nil keeps the latest's
	// configuration, bundle "" its code.
	update(ctx context.Context, name string, cfg *fn.Config, bundle string) (*fn.Version, error)
	latest(ctx context.Context, name string) (*fn.Version, error)
	list(ctx context.Context) ([]fn.Function, error)
	get(ctx context.Context, name string) (*fn.Function, error)
	versions(ctx context.Context, name string) ([]fn.Version, error)
	setAlias(ctx context.Context, name, alias string, version int) error
	deleteAlias(ctx context.Context, name, alias string) error
	remove(ctx context.Context, name string) error
}

// registryBackend is the function registry, reached over NATS.
type registryBackend struct {
	reg *fn.Registry
}

var _ fnBackend = registryBackend{}

func (b registryBackend) create(ctx context.Context, name string, cfg fn.Config, bundle string) (*fn.Version, error) {
	bb, _, err := bundleArg([]string{bundle})
	if err != nil {
		return nil, err
	}
	return b.reg.Create(ctx, name, cfg, bb)
}

func (b registryBackend) update(ctx context.Context, name string, cfg *fn.Config, bundle string) (*fn.Version, error) {
	var bb fn.Bundle
	if bundle != "" {
		var err error
		if bb, _, err = bundleArg([]string{bundle}); err != nil {
			return nil, err
		}
	}
	return b.reg.Update(ctx, name, cfg, bb)
}

func (b registryBackend) latest(ctx context.Context, name string) (*fn.Version, error) {
	return b.reg.Resolve(ctx, name, "latest")
}

func (b registryBackend) list(ctx context.Context) ([]fn.Function, error) { return b.reg.List(ctx) }

func (b registryBackend) get(ctx context.Context, name string) (*fn.Function, error) {
	return b.reg.Get(ctx, name)
}

func (b registryBackend) versions(ctx context.Context, name string) ([]fn.Version, error) {
	return b.reg.Versions(ctx, name)
}

func (b registryBackend) setAlias(ctx context.Context, name, alias string, n int) error {
	return b.reg.SetAlias(ctx, name, alias, n)
}

func (b registryBackend) deleteAlias(ctx context.Context, name, alias string) error {
	return b.reg.DeleteAlias(ctx, name, alias)
}

func (b registryBackend) remove(ctx context.Context, name string) error {
	return b.reg.Delete(ctx, name)
}

// apiClient talks to a gateway's management API (gateway.APIPrefix) with
// its bearer token.
type apiClient struct {
	base  string // the gateway's URL, without a trailing slash
	token string
	http  *http.Client
}

var _ fnBackend = (*apiClient)(nil)

// apiTimeout bounds one management API call but an invocation: a create
// may build a Go function on the gateway's side.
const apiTimeout = 5 * time.Minute

func newAPIClient(base, token string) (*apiClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--gateway %q: want the gateway's URL, as http://host:8080", base)}
	}
	return &apiClient{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{}}, nil
}

// apiError is an error reply of the management API.
type apiError struct {
	Status    int
	Message   string `json:"message"`
	Code      string `json:"code"`
	RequestID string `json:"requestId"`
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("gateway: %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " [request id " + e.RequestID + "]"
	}
	return s
}

// do sends a request to the API and decodes a 2xx reply's JSON into out
// (if not nil); any other status is an *apiError. It returns the reply's
// header.
func (c *apiClient) do(ctx context.Context, method, path string, body io.Reader, out any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+gateway.APIPrefix+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the gateway at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("the gateway at %s: %w", c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		ae := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(b, ae) != nil || ae.Message == "" {
			ae.Message = strings.TrimSpace(string(b))
		}
		return resp.Header, ae
	}
	if out != nil {
		switch o := out.(type) {
		case *[]byte:
			*o = b
		default:
			if err := json.Unmarshal(b, out); err != nil {
				return nil, fmt.Errorf("the gateway's reply to %s %s is not what the API documents: %w", method, path, err)
			}
		}
	}
	return resp.Header, nil
}

// functionRequest is the body of create and update (see the API's
// FunctionRequest).
type functionRequest struct {
	Name   string     `json:"name,omitempty"`
	Config *fn.Config `json:"config,omitempty"`
	Code   []byte     `json:"code,omitempty"`
}

func (c *apiClient) send(ctx context.Context, method, path string, req functionRequest, bundle string) (*fn.Version, error) {
	if bundle != "" {
		code, err := zipBundle(bundle)
		if err != nil {
			return nil, err
		}
		req.Code = code
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var v fn.Version
	if _, err := c.do(ctx, method, path, bytes.NewReader(b), &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func (c *apiClient) create(ctx context.Context, name string, cfg fn.Config, bundle string) (*fn.Version, error) {
	return c.send(ctx, "POST", "/functions", functionRequest{Name: name, Config: &cfg}, bundle)
}

func (c *apiClient) update(ctx context.Context, name string, cfg *fn.Config, bundle string) (*fn.Version, error) {
	return c.send(ctx, "PUT", "/functions/"+url.PathEscape(name), functionRequest{Config: cfg}, bundle)
}

func (c *apiClient) latest(ctx context.Context, name string) (*fn.Version, error) {
	f, err := c.get(ctx, name)
	if err != nil {
		return nil, err
	}
	var v fn.Version
	_, err = c.do(ctx, "GET", "/functions/"+url.PathEscape(name)+"/versions/"+strconv.Itoa(f.Latest), nil, &v)
	return &v, err
}

func (c *apiClient) list(ctx context.Context) ([]fn.Function, error) {
	var fs []fn.Function
	_, err := c.do(ctx, "GET", "/functions", nil, &fs)
	return fs, err
}

func (c *apiClient) get(ctx context.Context, name string) (*fn.Function, error) {
	var f fn.Function
	_, err := c.do(ctx, "GET", "/functions/"+url.PathEscape(name), nil, &f)
	return &f, err
}

func (c *apiClient) versions(ctx context.Context, name string) ([]fn.Version, error) {
	var vs []fn.Version
	_, err := c.do(ctx, "GET", "/functions/"+url.PathEscape(name)+"/versions", nil, &vs)
	return vs, err
}

func (c *apiClient) setAlias(ctx context.Context, name, alias string, n int) error {
	body := fmt.Sprintf(`{"version":%d}`, n)
	_, err := c.do(ctx, "PUT", "/functions/"+url.PathEscape(name)+"/aliases/"+url.PathEscape(alias), strings.NewReader(body), nil)
	return err
}

func (c *apiClient) deleteAlias(ctx context.Context, name, alias string) error {
	_, err := c.do(ctx, "DELETE", "/functions/"+url.PathEscape(name)+"/aliases/"+url.PathEscape(alias), nil, nil)
	return err
}

func (c *apiClient) remove(ctx context.Context, name string) error {
	_, err := c.do(ctx, "DELETE", "/functions/"+url.PathEscape(name), nil, nil)
	return err
}

// invoke invokes a function through the API. failed reports a function
// error (X-Amz-Function-Error), whose body is the error Lambda answers.
func (c *apiClient) invoke(ctx context.Context, name, qualifier string, payload []byte) (out []byte, version int, failed bool, err error) {
	path := "/functions/" + url.PathEscape(name) + "/invoke"
	if qualifier != "" {
		path += "?qualifier=" + url.QueryEscape(qualifier)
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	h, err := c.do(ctx, "POST", path, body, &out)
	if err != nil {
		return nil, 0, false, err
	}
	version, _ = strconv.Atoi(h.Get("X-Stoa-Function-Version"))
	return out, version, h.Get("X-Amz-Function-Error") != "", nil
}

// routes asks the gateway for the function's routes as it routes by them,
// once it has taken the function's latest version.
func (c *apiClient) routes(ctx context.Context, name string) (routes []gateway.Route, conflicts []gateway.Conflict, err error) {
	var list struct {
		Routes    []gateway.Route    `json:"routes"`
		Conflicts []gateway.Conflict `json:"conflicts"`
	}
	_, err = c.do(ctx, "GET", "/functions/"+url.PathEscape(name)+"/routes", nil, &list)
	return list.Routes, list.Conflicts, err
}

// zipBundle reads a bundle for the API, which carries code as a zip: a
// .zip file as it is, a directory zipped (regular files with their
// modes, directories, symbolic links as links; the registry checks the
// rest, as it checks a directory bundle).
func zipBundle(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("bundle: %w", err)}
	}
	if !st.IsDir() {
		if !strings.EqualFold(filepath.Ext(path), ".zip") {
			return nil, usageError{fmt.Errorf("bundle %s: want a directory or a .zip file", path)}
		}
		return os.ReadFile(path)
	}
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == path {
			return err
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t.IsDir():
			h.Name += "/"
			_, err = z.CreateHeader(h)
			return err
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			w, err := z.CreateHeader(h)
			if err == nil {
				_, err = io.WriteString(w, target)
			}
			return err
		case t.IsRegular():
			h.Method = zip.Deflate
			w, err := z.CreateHeader(h)
			if err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		}
		return fmt.Errorf("bundle: %s is a %v, not a file, directory or link", rel, d.Type())
	})
	if err == nil {
		err = z.Close()
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gatewayToken finds the management API's token: --token, else
// STOA_GATEWAY_TOKEN, else the file stoa up keeps in its data directory.
// Unlike gateway.TokenFile, it never makes one.
func gatewayToken(flag, dataDir string, getenv func(string) string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if t := getenv("STOA_GATEWAY_TOKEN"); t != "" {
		return t, nil
	}
	path := filepath.Join(dataDir, gatewayTokenFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", usageError{fmt.Errorf("no token for the gateway's management API: pass --token, set STOA_GATEWAY_TOKEN, or run where stoa up keeps %s", path)}
	}
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return t, nil
}

// localGateway is the gateway of the stoa up of dataDir, from the URL it
// wrote, or "" when that stoa up runs none (or is not running).
func localGateway(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, gatewayURLFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
