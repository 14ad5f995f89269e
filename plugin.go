package stoa

import (
	"context"
	"errors"
	"fmt"
)

// Plugin is a named group of patterns, added together by Engine.Use, as
// Seneca's use does.
type Plugin struct {
	// Name identifies the plugin; an engine uses a name once.
	Name string
	// Setup adds the plugin's patterns with the Adder it is given, which
	// records the plugin's name on each of them. It runs inside Use.
	Setup func(a *Adder) error
	// Init, if set, runs once, in the order of Use, when Engine.Ready is
	// called: the place to open connections the handlers need.
	Init func(ctx context.Context) error
	// Close, if set, runs on Engine.Close, in the reverse order of Use.
	Close func(ctx context.Context) error

	initDone bool
}

// Adder adds the patterns of one plugin.
type Adder struct {
	e      *Engine
	plugin string
}

// Add registers h for pattern, as Engine.Add does, on behalf of the plugin.
func (a *Adder) Add(pattern any, h Handler) error {
	_, err := a.e.add(pattern, h, a.plugin)
	return err
}

// Engine returns the engine the plugin is being added to, for handlers that
// act on it.
func (a *Adder) Engine() *Engine { return a.e }

// Use adds a plugin: it runs its Setup, which adds its patterns. Using a
// name that is already in use does nothing, as in Seneca.
func (e *Engine) Use(p Plugin) error {
	if p.Name == "" {
		return errors.New("stoa: plugin has no name")
	}
	e.mu.Lock()
	for _, q := range e.plugins {
		if q.Name == p.Name {
			e.mu.Unlock()
			return nil
		}
	}
	pp := &p
	e.plugins = append(e.plugins, pp)
	e.mu.Unlock()
	if p.Setup != nil {
		if err := p.Setup(&Adder{e: e, plugin: p.Name}); err != nil {
			return fmt.Errorf("stoa: plugin %s: %w", p.Name, err)
		}
	}
	return nil
}

// Ready runs the Init of every plugin not yet initialised, in the order of
// Use, and returns the first error.
func (e *Engine) Ready(ctx context.Context) error {
	e.mu.Lock()
	var todo []*Plugin
	for _, p := range e.plugins {
		if !p.initDone {
			p.initDone = true
			todo = append(todo, p)
		}
	}
	e.mu.Unlock()
	for _, p := range todo {
		if p.Init == nil {
			continue
		}
		if err := p.Init(ctx); err != nil {
			return fmt.Errorf("stoa: plugin %s failed to initialise: %w", p.Name, err)
		}
	}
	return nil
}
