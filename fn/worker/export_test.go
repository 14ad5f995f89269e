package worker

// Changed returns a channel closed at the next change of the worker's
// pools: one made, an environment taken, released, started or closed, a
// pool retired or removed.
func (w *Worker) Changed() <-chan struct{} {
	w.changedMu.Lock()
	defer w.changedMu.Unlock()
	if w.changed == nil {
		w.changed = make(chan struct{})
	}
	w.watched.Store(true)
	return w.changed
}
