package gateway

// Changed returns a channel closed at the next change of the route table,
// so that a test waits for a route change instead of sleeping.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Draining returns a channel closed when Shutdown or Close begins.
func (s *Server) Draining() <-chan struct{} { return s.drainCh }

// APIEndpoints lists the management API's endpoints as "METHOD /path",
// the path under APIPrefix as the OpenAPI document writes it.
func APIEndpoints() []string {
	var out []string
	for _, ar := range apiRoutes() {
		out = append(out, ar.method+" "+ar.path)
	}
	return out
}
