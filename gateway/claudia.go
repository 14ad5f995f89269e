package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// ClaudiaRoutes returns the routes a claudia-api-builder app declares, as a
// function's configuration writes them ("GET:/hello"), which is what
// `claudia create --api-module app` makes API Gateway resources of: it
// loads module (a path relative to dir, "app" or "lib/app.js") with node,
// in dir, and reads its apiConfig(). See ClaudiaConfigRoutes for the
// mapping.
func ClaudiaRoutes(ctx context.Context, dir, module string) ([]string, error) {
	const script = `const path = require("path");
const api = require(path.resolve(process.argv[1]));
if (!api || typeof api.apiConfig !== "function") {
  console.error("the module does not export a claudia-api-builder ApiBuilder");
  process.exit(2);
}
process.stdout.write(JSON.stringify(api.apiConfig()));`
	cmd := exec.CommandContext(ctx, "node", "-e", script, module)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gateway: reading the routes of %s with node: %w: %s", module, err, strings.TrimSpace(stderr.String()))
	}
	return ClaudiaConfigRoutes(out)
}

// ClaudiaConfigRoutes reads an app's apiConfig() JSON,
// {"version": 4, "routes": {"users/{id}": {"GET": {}}, …}}, into route
// specs, sorted: one per path and method, and, as claudia create adds them
// for CORS unless the app turned its CORS handlers off (corsHandlers:
// false), an OPTIONS route for each path that has none, which the app
// answers itself.
func ClaudiaConfigRoutes(apiConfig []byte) ([]string, error) {
	var c struct {
		Version      int                                   `json:"version"`
		Routes       map[string]map[string]json.RawMessage `json:"routes"`
		CorsHandlers json.RawMessage                       `json:"corsHandlers"`
	}
	if err := json.Unmarshal(apiConfig, &c); err != nil {
		return nil, fmt.Errorf("gateway: apiConfig: %w", err)
	}
	if c.Routes == nil {
		return nil, errors.New("gateway: apiConfig has no routes")
	}
	cors := string(c.CorsHandlers) != "false"
	var specs []string
	for p, ms := range c.Routes {
		path := "/" + strings.Trim(p, "/")
		hasOptions := false
		for m := range ms {
			m = strings.ToUpper(m)
			hasOptions = hasOptions || m == "OPTIONS"
			specs = append(specs, m+":"+path)
		}
		if cors && !hasOptions {
			specs = append(specs, "OPTIONS:"+path)
		}
	}
	slices.Sort(specs)
	for _, s := range specs {
		if _, err := ParseRoute(s); err != nil {
			return nil, err
		}
	}
	return specs, nil
}
