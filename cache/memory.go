package cache

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// Memory is an LRU bounded by the total size of the bodies it holds.
type Memory struct {
	mu     sync.Mutex
	budget int64
	used   int64
	order  *list.List // front = most recently used
	items  map[string]*list.Element

	hits, misses, evictions atomic.Uint64
}

type memItem struct {
	key   string
	entry Entry
}

// NewMemory returns an LRU holding at most budget bytes; budget <= 0
// disables it (every Get misses, Put is a no-op).
func NewMemory(budget int64) *Memory {
	return &Memory{budget: budget, order: list.New(), items: map[string]*list.Element{}}
}

// overhead approximates per-item bookkeeping so a flood of tiny entries
// (colors is ~120 bytes) cannot outgrow the budget.
const overhead = 128

// get returns the entry and marks it recently used.
func (m *Memory) get(key string) (Entry, bool) { return m.getName([]byte(key)) }

// getName is get for a name built in a caller's buffer: the map lookup
// with string(key) allocates nothing, so a cache hit builds no string.
func (m *Memory) getName(key []byte) (Entry, bool) {
	if m.budget <= 0 {
		return Entry{}, false
	}
	m.mu.Lock()
	el, ok := m.items[string(key)]
	if ok {
		m.order.MoveToFront(el)
	}
	m.mu.Unlock()
	if !ok {
		m.misses.Add(1)
		return Entry{}, false
	}
	m.hits.Add(1)
	return el.Value.(*memItem).entry, true
}

// held is the memory an entry keeps alive: its backing array, not its
// length, since a slice of a larger buffer pins all of it.
func held(e Entry) int64 { return int64(cap(e.Body)) + overhead }

// put stores an entry, evicting least recently used ones to stay in budget.
// Entries larger than an eighth of the budget are not kept: one giant
// fit_7680 must not flush hundreds of tiles. A body that is a window into a
// larger buffer (an original cut from a big file, a slice of a decoder's
// output) is copied to a buffer of its own first, so the budget counts the
// memory really held.
func (m *Memory) put(key string, e Entry) {
	if m.budget <= 0 || int64(len(e.Body))+overhead > m.budget/8 {
		return
	}
	if cap(e.Body) > len(e.Body) {
		own := make([]byte, len(e.Body))
		copy(own, e.Body)
		e.Body = own
	}
	size := held(e)
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		old := el.Value.(*memItem)
		m.used += size - held(old.entry)
		old.entry = e
		m.order.MoveToFront(el)
	} else {
		m.items[key] = m.order.PushFront(&memItem{key: key, entry: e})
		m.used += size
	}
	for m.used > m.budget {
		el := m.order.Back()
		it := el.Value.(*memItem)
		m.order.Remove(el)
		delete(m.items, it.key)
		m.used -= held(it.entry)
		m.evictions.Add(1)
	}
}

// deletePrefix drops every entry whose key starts with prefix.
func (m *Memory) deletePrefix(prefix string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, el := range m.items {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			m.used -= held(el.Value.(*memItem).entry)
			m.order.Remove(el)
			delete(m.items, k)
		}
	}
}

// Stats reports counters and occupancy.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Hits: m.hits.Load(), Misses: m.misses.Load(), Evictions: m.evictions.Load(), Bytes: m.used, Items: len(m.items)}
}

// Name is the tier's label in logs and metrics.
func (m *Memory) Name() string { return "memory" }

// memoryName names a variant in the memory tier: <hash>_<size>.<ext>,
// where ext is the requested format (the entry records the real one).
func memoryName(k Key) string { return string(appendName(nil, k)) }

func appendName(b []byte, k Key) []byte {
	b = append(b, k.Hash...)
	b = append(b, '_')
	b = append(b, k.Size.Name...)
	b = append(b, '.')
	return append(b, k.Format.Ext()...)
}

// Get returns the variant and marks it recently used.
func (m *Memory) Get(k Key) (Entry, bool) {
	var buf [128]byte
	return m.getName(appendName(buf[:0], k))
}

// Put keeps any variant (see put for what is too large to keep).
func (m *Memory) Put(k Key, e Entry) { m.put(memoryName(k), e) }

// Peek returns a variant without counting a hit or a miss or touching its
// recency (used to look for a larger variant to derive from).
func (m *Memory) Peek(k Key) (Entry, bool) {
	var buf [128]byte
	return m.peekName(appendName(buf[:0], k))
}

// Delete drops a photo's variants: every size, or one size in every format.
func (m *Memory) Delete(hash, size string) {
	if size == "" {
		m.deletePrefix(hash + "_")
		return
	}
	m.deletePrefix(hash + "_" + size + ".")
}

// peek returns an entry without counting a hit or a miss or touching its
// recency (used to look for a larger variant to derive from).
func (m *Memory) peek(key string) (Entry, bool) { return m.peekName([]byte(key)) }

func (m *Memory) peekName(key []byte) (Entry, bool) {
	if m.budget <= 0 {
		return Entry{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[string(key)]
	if !ok {
		return Entry{}, false
	}
	return el.Value.(*memItem).entry, true
}
