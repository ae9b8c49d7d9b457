package server

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/xmodal/xmodal/search"
)

// Run serves on ln until ctx is cancelled, as `xmodal serve` and `xmodal
// demo` do: it answers at once (health checks, 503 "loading") while open
// loads the engine beside it, settles the uploads folder, and turns ready.
// A failure to load ends Run with that error. ready, if not nil, is called
// once the server answers queries. The engine is closed when Run returns.
func (s *Server) Run(ctx context.Context, ln net.Listener, open func(context.Context) (*search.Engine, error), ready func(*search.Engine)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var eng *search.Engine
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		start := time.Now()
		var err error
		if eng, err = open(ctx); err != nil {
			cancel(err)
			return
		}
		s.cleanUploads(ctx, eng)
		images, captions := eng.Counts()
		s.SetEngine(eng)
		s.log.Info("ready", "images", images, "captions", captions, "model", eng.Workspace().Manifest().Model.Name, "load_time", time.Since(start).Round(time.Millisecond))
		if ready != nil {
			ready(eng)
		}
	}()

	err := s.Serve(ctx, ln)
	cancel(nil) // stop a load still running (a no-op if it failed: the first cause stays)
	<-loaded    // the engine is no longer used once Serve has returned
	if eng != nil {
		eng.Close()
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause // loading failed
	}
	return err
}

// cleanUploads settles what a crash left in the workspace's uploads folder
// before the server takes adds. A workspace that another process is
// writing to is left alone: the next start will do it.
func (s *Server) cleanUploads(ctx context.Context, eng *search.Engine) {
	recovered, removed, err := eng.CleanUploads(ctx)
	switch {
	case err != nil:
		s.log.Warn("uploads folder not checked", "err", err)
	case recovered+removed > 0:
		s.log.Info("uploads folder settled after an interrupted add", "recovered", recovered, "removed", removed)
	}
}
