// Package capture reads frames from a camera source (a video file, an
// RTSP/HTTP URL or a V4L2 device) through gocv, reconnecting live sources
// with capped exponential backoff, and hands them to the detector through
// a bounded queue that drops the oldest frame when detection falls behind.
package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"
)

// Frame is one decoded frame. The receiver owns Mat and must Close it.
type Frame struct {
	Mat   gocv.Mat
	Index int       // 0-based, counting every frame read from the source
	Time  time.Time // capture time (live) or start + Index/fps (file)
	PTS   time.Duration
}

// Kind is a source's kind.
type Kind int

const (
	File Kind = iota
	URL
	Device
)

// KindOf classifies a source string.
func KindOf(src string) Kind {
	switch {
	case strings.Contains(src, "://"):
		return URL
	case strings.HasPrefix(src, "/dev/video"):
		return Device
	}
	if _, err := strconv.Atoi(src); err == nil {
		return Device
	}
	return File
}

// Options configure a Source.
type Options struct {
	FPS        float64       // override of the source's frame rate; 0 = ask the source
	Pace       bool          // deliver file frames at FPS (live mode); off: as fast as decoded
	BackoffMin time.Duration // first reconnect delay [500ms]
	BackoffMax time.Duration // cap [30s]
	// MaxBadFrames is how many consecutive unreadable frames end a file
	// (a truncated or corrupt tail) [25].
	MaxBadFrames int
	Logger       *slog.Logger
}

// Stats are the source's counters.
type Stats struct {
	FramesRead  int64
	BadFrames   int64 // reads that failed before the end (corrupt data)
	Reconnects  int64
	LastFrame   time.Time
	Down        bool   // the source is unreachable, reconnecting
	LastError   string // last open/read error
	FPS         float64
	Width       int
	Height      int
	TotalFrames int // from the container; 0 when unknown
}

// Source is an opened camera source.
type Source struct {
	src  string
	kind Kind
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	stats Stats
	read  atomic.Int64
}

// ErrOpen wraps failures to open a source.
var ErrOpen = errors.New("cannot open video source")

// Open checks the source before any C++ call that could abort on it, opens
// it once to learn its size and rate, and returns it ready to Run. For a
// file, a missing, empty or unreadable file is an error naming it.
func Open(src string, opts Options) (*Source, error) {
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = 500 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 30 * time.Second
	}
	if opts.MaxBadFrames <= 0 {
		opts.MaxBadFrames = 25
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Source{src: src, kind: KindOf(src), opts: opts, log: opts.Logger}
	if s.kind == File {
		st, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrOpen, src, err)
		}
		if !st.Mode().IsRegular() || st.Size() == 0 {
			return nil, fmt.Errorf("%w %s: not a regular non-empty file", ErrOpen, src)
		}
		vc, err := s.open()
		if err != nil {
			return nil, err
		}
		vc.Close()
	}
	return s, nil
}

func (s *Source) open() (*gocv.VideoCapture, error) {
	var vc *gocv.VideoCapture
	var err error
	switch s.kind {
	case Device:
		n, perr := strconv.Atoi(strings.TrimPrefix(s.src, "/dev/video"))
		if perr != nil {
			return nil, fmt.Errorf("%w %s: bad device", ErrOpen, s.src)
		}
		vc, err = gocv.VideoCaptureDeviceWithAPI(n, gocv.VideoCaptureV4L2)
	default:
		// FFmpeg only: the other backends (GStreamer, image sequences) add
		// nothing for files and URLs but noise and odd failure modes.
		vc, err = gocv.VideoCaptureFileWithAPI(s.src, gocv.VideoCaptureFFmpeg)
	}
	if err != nil || vc == nil || !vc.IsOpened() {
		if vc != nil {
			vc.Close()
		}
		return nil, fmt.Errorf("%w %s: OpenCV could not open it (unsupported or corrupt container, or unreachable)", ErrOpen, s.src)
	}
	fps := s.opts.FPS
	if fps <= 0 {
		fps = vc.Get(gocv.VideoCaptureFPS)
	}
	if fps <= 0 || fps > 1000 {
		fps = 25
	}
	s.mu.Lock()
	s.stats.FPS = fps
	s.stats.Width = int(vc.Get(gocv.VideoCaptureFrameWidth))
	s.stats.Height = int(vc.Get(gocv.VideoCaptureFrameHeight))
	if s.kind == File {
		s.stats.TotalFrames = int(vc.Get(gocv.VideoCaptureFrameCount))
	}
	s.mu.Unlock()
	return vc, nil
}

// Stats returns a copy of the counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.FramesRead = s.read.Load()
	return st
}

// Run reads frames and passes each to emit (which takes ownership) until
// the source ends (file: returns io.EOF after the last frame) or ctx ends.
// Live sources that fail are reopened with capped exponential backoff,
// forever; the error of each failure is in Stats while down.
func (s *Source) Run(ctx context.Context, emit func(Frame)) error {
	backoff := s.opts.BackoffMin
	start := time.Now()
	index := 0
	for {
		vc, err := s.open()
		if err != nil {
			if s.kind == File {
				return err
			}
			s.setDown(err)
			s.log.Warn("camera source down, retrying", "source", s.src, "err", err, "retry_in", backoff)
			if err := s.backOff(ctx, &backoff); err != nil {
				return err
			}
			continue
		}
		s.mu.Lock()
		s.stats.Down = false
		fps := s.stats.FPS
		s.mu.Unlock()
		ended, err := s.readLoop(ctx, vc, emit, &index, start, fps)
		vc.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.kind == File {
			if err != nil {
				return err
			}
			if ended {
				return io.EOF
			}
		}
		if err == nil {
			backoff = s.opts.BackoffMin // it worked for a while
		}
		s.setDown(fmt.Errorf("stream %s stopped delivering frames", s.src))
		s.log.Warn("camera stream dropped, reconnecting", "source", s.src, "retry_in", backoff)
		if err := s.backOff(ctx, &backoff); err != nil {
			return err
		}
	}
}

// backOff waits out *backoff before the next reconnection attempt (or
// returns ctx's error), doubles it up to BackoffMax and counts the
// reconnect.
func (s *Source) backOff(ctx context.Context, backoff *time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*backoff):
	}
	*backoff = min(*backoff*2, s.opts.BackoffMax)
	s.mu.Lock()
	s.stats.Reconnects++
	s.mu.Unlock()
	return nil
}

func (s *Source) setDown(err error) {
	s.mu.Lock()
	s.stats.Down = true
	s.stats.LastError = err.Error()
	s.mu.Unlock()
}

// readLoop reads until the source fails. For files, a failed read before
// the container's frame count is a bad frame (skipped, counted); after
// MaxBadFrames in a row the file is taken to end there (truncated).
func (s *Source) readLoop(ctx context.Context, vc *gocv.VideoCapture, emit func(Frame), index *int, start time.Time, fps float64) (ended bool, err error) {
	total := 0
	if s.kind == File {
		total = int(vc.Get(gocv.VideoCaptureFrameCount))
	}
	period := time.Duration(float64(time.Second) / fps)
	bad := 0
	next := time.Now()
	for ctx.Err() == nil {
		m := gocv.NewMat()
		ok := vc.Read(&m)
		if !ok || m.Empty() {
			m.Close()
			if s.kind != File {
				return false, nil
			}
			pos := int(vc.Get(gocv.VideoCapturePosFrames))
			if total <= 0 || pos >= total || *index >= total {
				return true, nil
			}
			bad++
			s.mu.Lock()
			s.stats.BadFrames++
			s.mu.Unlock()
			if bad >= s.opts.MaxBadFrames {
				s.log.Warn("video ends early: unreadable frames", "source", s.src, "read", *index, "container_frames", total, "bad_frames", s.Stats().BadFrames)
				return true, nil
			}
			continue
		}
		bad = 0
		if m.Type() != gocv.MatTypeCV8UC3 {
			m.Close()
			s.mu.Lock()
			s.stats.BadFrames++
			s.mu.Unlock()
			continue
		}
		now := time.Now()
		f := Frame{Mat: m, Index: *index, PTS: time.Duration(float64(*index) * float64(period))}
		if s.kind == File {
			f.Time = start.Add(f.PTS)
		} else {
			f.Time = now
		}
		*index++
		s.read.Add(1)
		s.mu.Lock()
		s.stats.LastFrame = now
		s.mu.Unlock()
		if s.kind == File && s.opts.Pace {
			next = next.Add(period)
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					m.Close()
					return false, ctx.Err()
				case <-time.After(d):
				}
			}
		}
		emit(f)
	}
	return false, ctx.Err()
}

// Queue is a bounded frame queue. Push never blocks: when full it drops
// (and closes) the oldest frame and counts it, so that a slow detector sees
// the newest frames rather than an ever older backlog.
type Queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []Frame
	cap     int
	closed  bool
	dropped int64
}

// NewQueue returns a queue holding at most n frames.
func NewQueue(n int) *Queue {
	q := &Queue{cap: max(n, 1)}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Push adds f, dropping the oldest frame when full.
func (q *Queue) Push(f Frame) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		f.Mat.Close()
		return
	}
	if len(q.buf) >= q.cap {
		q.buf[0].Mat.Close()
		q.buf = q.buf[1:]
		q.dropped++
	}
	q.buf = append(q.buf, f)
	q.cond.Signal()
}

// Pop waits for a frame; ok is false once the queue is closed and empty or
// ctx ended.
func (q *Queue) Pop(ctx context.Context) (Frame, bool) {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.buf) == 0 && !q.closed && ctx.Err() == nil {
		q.cond.Wait()
	}
	if len(q.buf) == 0 || ctx.Err() != nil {
		return Frame{}, false
	}
	f := q.buf[0]
	q.buf = q.buf[1:]
	return f, true
}

// Close ends the queue: Pop drains what is left, then reports !ok.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// Discard closes every frame still queued.
func (q *Queue) Discard() {
	q.mu.Lock()
	for _, f := range q.buf {
		f.Mat.Close()
	}
	q.buf = nil
	q.mu.Unlock()
}

// Dropped is the number of frames dropped because the queue was full.
func (q *Queue) Dropped() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// Len is the number of frames waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf)
}
