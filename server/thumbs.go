package server

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"sync"

	"github.com/xmodal/xmodal/imageio"
)

// Thumbnails are square, centre-cropped JPEGs made with the same Pillow-exact
// resampling as the model's preprocessing, kept in an in-memory LRU cache.
// Memory rather than disk: the server opens the workspace read-only, and
// another process may own it.

// DefaultThumbnailSize is the side of a thumbnail when the request gives
// none.
const DefaultThumbnailSize = 256

// thumbnailSizes are the sizes a client may ask for; a closed set keeps the
// cache effective.
var thumbnailSizes = map[int]bool{128: true, 256: true, 512: true}

// thumbnail returns the JPEG thumbnail of the image that read returns, from
// the cache under key if it is there.
func (s *Server) thumbnail(ctx context.Context, key string, read func() ([]byte, error), size int) ([]byte, error) {
	if data, ok := s.thumbs.get(key); ok {
		s.metrics.thumbHits.Add(1)
		return data, nil
	}
	s.metrics.thumbMisses.Add(1)
	release, err := s.acquireImageSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	data, err := read()
	if err != nil {
		return nil, err
	}
	jpg, err := makeThumbnail(data, size, s.opts.MaxPixels)
	if err != nil {
		return nil, err
	}
	s.thumbs.put(key, jpg)
	return jpg, nil
}

// makeThumbnail decodes an image (EXIF orientation applied) and returns a
// size×size JPEG of its centre.
func makeThumbnail(data []byte, size int, maxPixels int64) ([]byte, error) {
	p, err := imageio.DecodeBytes(data, imageio.Options{MaxPixels: maxPixels})
	if err != nil {
		return nil, err
	}
	// Preprocess with mean 0 and std 1/255 yields the resized bytes
	// themselves, as floats, in planes.
	opts := imageio.Options{
		Size: size, CropSize: size, Resample: imageio.Bicubic,
		Std: [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255},
	}
	planes := imageio.Preprocess(p, opts, nil)
	n := size * size
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := range n {
		for c := range 3 {
			img.Pix[4*i+c] = toByte(planes[c*n+i])
		}
		img.Pix[4*i+3] = 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 82}); err != nil {
		return nil, fmt.Errorf("encode thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

func toByte(v float32) uint8 {
	return uint8(math.Round(float64(min(max(v, 0), 255))))
}

// thumbCache is an LRU cache of thumbnails bounded by their total size.
type thumbCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	order *list.List // of *thumbEntry, most recent first
	items map[string]*list.Element
}

type thumbEntry struct {
	key  string
	data []byte
}

func newThumbCache(maxBytes int64) *thumbCache {
	return &thumbCache{max: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

func (c *thumbCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*thumbEntry).data, true
}

func (c *thumbCache) put(key string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(data)) > c.max {
		return
	}
	if el, ok := c.items[key]; ok {
		c.size -= int64(len(el.Value.(*thumbEntry).data))
		c.order.Remove(el)
	}
	c.items[key] = c.order.PushFront(&thumbEntry{key, data})
	c.size += int64(len(data))
	for c.size > c.max {
		last := c.order.Back()
		e := last.Value.(*thumbEntry)
		c.order.Remove(last)
		delete(c.items, e.key)
		c.size -= int64(len(e.data))
	}
}

func (c *thumbCache) usage() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.size
}
