package twin

import (
	"errors"
	"fmt"
	"math"

	"github.com/intersect-oss/intersect/tracker"
)

// Camera is a pinhole camera above the ground plane (z = 0). World axes are
// metres: x east, y north, z up, origin at the centre of the intersection.
type Camera struct {
	XM, YM, HeightM float64 // optical centre
	YawRad          float64 // heading of the optical axis, counter-clockwise from east
	TiltRad         float64 // depression of the optical axis below the horizon
	FocalPx         float64 // focal length in pixels (square pixels, no skew)
	Width, Height   int     // image size in pixels; principal point at the centre
}

// vec3 is a point or direction in world or camera coordinates.
type vec3 struct{ x, y, z float64 }

func (a vec3) sub(b vec3) vec3      { return vec3{a.x - b.x, a.y - b.y, a.z - b.z} }
func (a vec3) dot(b vec3) float64   { return a.x*b.x + a.y*b.y + a.z*b.z }
func (a vec3) scale(k float64) vec3 { return vec3{a.x * k, a.y * k, a.z * k} }
func (a vec3) cross(b vec3) vec3 {
	return vec3{a.y*b.z - a.z*b.y, a.z*b.x - a.x*b.z, a.x*b.y - a.y*b.x}
}

// axes returns the camera's right, down and forward unit vectors in world
// coordinates (OpenCV's camera frame: x right, y down, z forward).
func (c Camera) axes() (right, down, fwd vec3) {
	ct, st := math.Cos(c.TiltRad), math.Sin(c.TiltRad)
	fwd = vec3{ct * math.Cos(c.YawRad), ct * math.Sin(c.YawRad), -st}
	right = vec3{math.Sin(c.YawRad), -math.Cos(c.YawRad), 0} // fwd × up, normalised
	down = fwd.cross(right)
	return right, down, fwd
}

// Validate reports a camera that cannot see the ground.
func (c Camera) Validate() error {
	switch {
	case c.Width < 16 || c.Height < 16 || c.Width > 7680 || c.Height > 4320:
		return fmt.Errorf("camera: image size %dx%d out of range 16x16..7680x4320", c.Width, c.Height)
	case !(c.HeightM > 0):
		return fmt.Errorf("camera: height %v m must be above the ground", c.HeightM)
	case !(c.FocalPx > 0):
		return fmt.Errorf("camera: focal length %v px must be positive", c.FocalPx)
	case !(c.TiltRad > 0 && c.TiltRad < math.Pi/2):
		return fmt.Errorf("camera: tilt %v rad must point below the horizon (0, π/2)", c.TiltRad)
	}
	return nil
}

// Projection returns the 3×4 projection matrix P = K [R | −R C], row-major.
func (c Camera) Projection() [12]float64 {
	r, d, f := c.axes()
	C := vec3{c.XM, c.YM, c.HeightM}
	cx, cy := float64(c.Width)/2, float64(c.Height)/2
	rows := [3]vec3{r, d, f}
	var rt [3][4]float64
	for i, a := range rows {
		rt[i] = [4]float64{a.x, a.y, a.z, -a.dot(C)}
	}
	K := [3][3]float64{{c.FocalPx, 0, cx}, {0, c.FocalPx, cy}, {0, 0, 1}}
	var P [12]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 4; j++ {
			var s float64
			for k := 0; k < 3; k++ {
				s += K[i][k] * rt[k][j]
			}
			P[i*4+j] = s
		}
	}
	return P
}

// toCamera returns a world point in camera coordinates (z = depth).
func (c Camera) toCamera(p vec3) vec3 {
	r, d, f := c.axes()
	q := p.sub(vec3{c.XM, c.YM, c.HeightM})
	return vec3{q.dot(r), q.dot(d), q.dot(f)}
}

// pixel projects a camera-frame point with positive depth.
func (c Camera) pixel(q vec3) (u, v float64) {
	return c.FocalPx*q.x/q.z + float64(c.Width)/2, c.FocalPx*q.y/q.z + float64(c.Height)/2
}

// Project maps a world point to the image; ok is false behind the camera.
func (c Camera) Project(x, y, z float64) (u, v float64, ok bool) {
	q := c.toCamera(vec3{x, y, z})
	if q.z <= 1e-6 {
		return 0, 0, false
	}
	u, v = c.pixel(q)
	return u, v, true
}

// GroundToImage is the homography taking ground (x, y, 1) to image pixels:
// columns 1, 2 and 4 of P, row-major.
func (c Camera) GroundToImage() [9]float64 {
	P := c.Projection()
	return [9]float64{P[0], P[1], P[3], P[4], P[5], P[7], P[8], P[9], P[11]}
}

// Homography is the exact image → ground homography (row-major, metres),
// the inverse of GroundToImage normalised so that H[8] = 1.
func (c Camera) Homography() (tracker.Homography, error) {
	H, err := tracker.Homography(c.GroundToImage()).Inverse()
	if err != nil {
		return H, fmt.Errorf("camera: ground homography: %w", err)
	}
	if H[8] == 0 {
		return H, errors.New("camera: ground homography maps the principal ray to infinity")
	}
	k := 1 / H[8]
	for i := range H {
		H[i] *= k
	}
	return H, nil
}
