package capture

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/internal/testenv"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestFileReadsEveryFrameThenEOF(t *testing.T) {
	video := testenv.SharedData(t, "pets09-s2l1", "vtest.avi")
	s, err := Open(video, Options{FPS: 7, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var last Frame
	err = s.Run(context.Background(), func(f Frame) {
		if f.Index != n {
			t.Errorf("frame index %d, want %d", f.Index, n)
		}
		n++
		last = f
		f.Mat.Close()
	})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Run = %v, want io.EOF", err)
	}
	st := s.Stats()
	if n != 795 || st.FramesRead != 795 || st.Width != 768 || st.Height != 576 || st.FPS != 7 {
		t.Errorf("read %d frames, stats %+v; want 795 of 768x576 at 7 fps", n, st)
	}
	// Timestamps follow the 7 fps override, not the container's 10.
	if want := time.Duration(794 * int64(time.Second) / 7); absDur(last.PTS-want) > time.Millisecond {
		t.Errorf("last PTS %s, want %s", last.PTS, want)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.avi")
	os.WriteFile(text, []byte("this is not a video\n"), 0o644)
	empty := filepath.Join(dir, "empty.avi")
	os.WriteFile(empty, nil, 0o644)
	for _, p := range []string{text, empty, filepath.Join(dir, "missing.avi")} {
		if _, err := Open(p, Options{Logger: quiet()}); err == nil || !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open = %v, want ErrOpen naming it", p, err)
		}
	}
}

// TestTruncatedVideo cuts vtest.avi in half: reading must end cleanly
// (io.EOF or a clear error) with the frames before the cut, never crash.
func TestTruncatedVideo(t *testing.T) {
	data, err := os.ReadFile(testenv.SharedData(t, "pets09-s2l1", "vtest.avi"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.avi")
	os.WriteFile(cut, data[:len(data)/2], 0o644)
	s, err := Open(cut, Options{Logger: quiet()})
	if err != nil {
		t.Logf("truncated file refused at open: %v", err)
		return
	}
	n := 0
	err = s.Run(context.Background(), func(f Frame) { n++; f.Mat.Close() })
	if !errors.Is(err, io.EOF) && err == nil {
		t.Fatalf("Run = %v", err)
	}
	st := s.Stats()
	t.Logf("truncated vtest.avi: %d frames read, %d unreadable, container says %d", n, st.BadFrames, st.TotalFrames)
	if n < 300 || n >= 795 {
		t.Errorf("read %d frames from half the file", n)
	}
}

func TestUnreachableStreamRetries(t *testing.T) {
	s, err := Open("http://127.0.0.1:1/cam.mjpg", Options{BackoffMin: 20 * time.Millisecond, BackoffMax: 80 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	err = s.Run(ctx, func(f Frame) { f.Mat.Close() })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want the context's end", err)
	}
	st := s.Stats()
	if !st.Down || st.Reconnects < 2 || st.LastError == "" {
		t.Errorf("stats %+v: want down with retries and the error", st)
	}
}

func TestQueueDropsOldest(t *testing.T) {
	q := NewQueue(2)
	for i := 0; i < 5; i++ {
		q.Push(Frame{Mat: gocv.NewMatWithSize(2, 2, gocv.MatTypeCV8UC3), Index: i})
	}
	if q.Dropped() != 3 {
		t.Errorf("dropped %d, want 3", q.Dropped())
	}
	q.Close()
	var got []int
	for {
		f, ok := q.Pop(context.Background())
		if !ok {
			break
		}
		got = append(got, f.Index)
		f.Mat.Close()
	}
	if len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Errorf("kept %v, want the newest [3 4]", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	q2 := NewQueue(1)
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if _, ok := q2.Pop(ctx); ok {
		t.Error("Pop on an empty queue returned a frame after cancel")
	}
}
