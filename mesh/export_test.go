package mesh

// Changed returns a channel closed at the next change of what n knows.
func (n *Node) Changed() <-chan struct{} {
	n.view.RLock()
	defer n.view.RUnlock()
	return n.changed
}
