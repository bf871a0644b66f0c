package storage

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch keeps the index current while serving: a periodic rescan (every
// interval; it works on NFS/SMB mounts, where inotify sees nothing) and,
// if inotify is true, a rescan shortly after the kernel reports a change.
// A rescan stats every file and hashes only new or changed ones; removed
// files stop being served. done is called after each rescan, the first
// time right after the inotify watches are in place.
func (ix *Index) Watch(ctx context.Context, interval time.Duration, inotify bool, workers int, done func(Stats, error)) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	var events <-chan fsnotify.Event
	var w *fsnotify.Watcher
	if inotify {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			ix.log.Warn("index: inotify unavailable; relying on rescan_interval", "err", err)
		} else {
			defer w.Close()
			ix.watchTree(w, ".")
			events = w.Events
		}
	}
	if tick == nil && events == nil {
		return
	}
	var debounce <-chan time.Time
	if w != nil {
		// Catch up once the watches are in place: anything that changed
		// between the start-up scan and now raised no event.
		st, err := ix.Scan(ctx, workers)
		if done != nil {
			done(st, err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Has(fsnotify.Create) {
				// New folders need watches of their own.
				if rel, err := filepath.Rel(ix.dir, ev.Name); err == nil {
					ix.watchTree(w, filepath.ToSlash(rel))
				}
			}
			// Photo imports come in bursts; rescan once they settle.
			debounce = time.After(2 * time.Second)
			continue
		case <-debounce:
			debounce = nil
		case <-tick:
		}
		st, err := ix.Scan(ctx, workers)
		if done != nil {
			done(st, err)
		}
	}
}

// watchTree adds inotify watches for rel and the folders below it,
// skipping hidden ones like the scan does.
func (ix *Index) watchTree(w *fsnotify.Watcher, rel string) {
	_ = fs.WalkDir(ix.root.FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		if err := w.Add(filepath.Join(ix.dir, p)); err != nil {
			ix.log.Warn("index: cannot watch folder; rescan_interval still applies", "path", p, "err", err)
			return fs.SkipDir
		}
		return nil
	})
}
