package main

import (
	"encoding/xml"
	"fmt"
	"math"
	"os"
)

// Tsai is a camera in Tsai's model (R. Tsai 1987, as implemented by Reg
// Willson's calibration code, which the PETS 2009 calibration files follow):
// world millimetres → camera frame by rotation R(rx, ry, rz) and translation
// T, perspective with focal length f (mm), radial distortion kappa1 on the
// sensor plane, then sensor millimetres → pixels with the horizontal scale
// factor sx, pixel pitch dpx/dpy and the image centre (cx, cy).
type Tsai struct {
	Width, Height int
	F, Kappa1     float64
	Cx, Cy, Sx    float64
	Dpx, Dpy      float64
	Tx, Ty, Tz    float64
	R             [9]float64
}

type tsaiXML struct {
	Geometry struct {
		Width  int     `xml:"width,attr"`
		Height int     `xml:"height,attr"`
		Dpx    float64 `xml:"dpx,attr"`
		Dpy    float64 `xml:"dpy,attr"`
	} `xml:"Geometry"`
	Intrinsic struct {
		Focal  float64 `xml:"focal,attr"`
		Kappa1 float64 `xml:"kappa1,attr"`
		Cx     float64 `xml:"cx,attr"`
		Cy     float64 `xml:"cy,attr"`
		Sx     float64 `xml:"sx,attr"`
	} `xml:"Intrinsic"`
	Extrinsic struct {
		Tx float64 `xml:"tx,attr"`
		Ty float64 `xml:"ty,attr"`
		Tz float64 `xml:"tz,attr"`
		Rx float64 `xml:"rx,attr"`
		Ry float64 `xml:"ry,attr"`
		Rz float64 `xml:"rz,attr"`
	} `xml:"Extrinsic"`
}

// LoadTsai reads a PETS/OpenTraj calibration XML.
func LoadTsai(path string) (*Tsai, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var x tsaiXML
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if x.Intrinsic.Focal <= 0 || x.Geometry.Dpx <= 0 || x.Geometry.Dpy <= 0 || x.Intrinsic.Sx <= 0 {
		return nil, fmt.Errorf("%s: focal, dpx, dpy and sx must be positive", path)
	}
	e := x.Extrinsic
	sa, ca := math.Sincos(e.Rx)
	sb, cb := math.Sincos(e.Ry)
	sg, cg := math.Sincos(e.Rz)
	// Willson's rotation: R = Rz(rz)·Ry(ry)·Rx(rx).
	r := [9]float64{
		cb * cg, cg*sa*sb - ca*sg, sa*sg + ca*cg*sb,
		cb * sg, sa*sb*sg + ca*cg, ca*sb*sg - cg*sa,
		-sb, cb * sa, ca * cb,
	}
	return &Tsai{
		Width: x.Geometry.Width, Height: x.Geometry.Height,
		F: x.Intrinsic.Focal, Kappa1: x.Intrinsic.Kappa1,
		Cx: x.Intrinsic.Cx, Cy: x.Intrinsic.Cy, Sx: x.Intrinsic.Sx,
		Dpx: x.Geometry.Dpx, Dpy: x.Geometry.Dpy,
		Tx: e.Tx, Ty: e.Ty, Tz: e.Tz, R: r,
	}, nil
}

// WorldToImage projects a world point (mm) to pixels.
func (c *Tsai) WorldToImage(xw, yw, zw float64) (xf, yf float64, ok bool) {
	r := c.R
	xc := r[0]*xw + r[1]*yw + r[2]*zw + c.Tx
	yc := r[3]*xw + r[4]*yw + r[5]*zw + c.Ty
	zc := r[6]*xw + r[7]*yw + r[8]*zw + c.Tz
	if zc <= 0 {
		return 0, 0, false // behind the camera
	}
	xu := c.F * xc / zc
	yu := c.F * yc / zc
	// Undistorted → distorted sensor coordinates: solve Xu = Xd(1 + κ1 rd²)
	// by fixed-point iteration (converges fast for the small κ1 of a CCTV
	// lens; Willson solves the same cubic in closed form).
	xd, yd := xu, yu
	for i := 0; i < 50; i++ {
		f := 1 + c.Kappa1*(xd*xd+yd*yd)
		xd, yd = xu/f, yu/f
	}
	return xd*c.Sx/c.Dpx + c.Cx, yd/c.Dpy + c.Cy, true
}

// ImageToGround back-projects a pixel onto the world plane z = 0 (mm).
func (c *Tsai) ImageToGround(xf, yf float64) (xw, yw float64, ok bool) {
	xd := (xf - c.Cx) * c.Dpx / c.Sx
	yd := (yf - c.Cy) * c.Dpy
	f := 1 + c.Kappa1*(xd*xd+yd*yd)
	d := [3]float64{xd * f, yd * f, c.F} // ray direction in the camera frame
	r := c.R
	// World = Rᵀ(λd − T); pick λ so that z_w = 0.
	num := r[2]*c.Tx + r[5]*c.Ty + r[8]*c.Tz
	den := r[2]*d[0] + r[5]*d[1] + r[8]*d[2]
	if math.Abs(den) < 1e-12 {
		return 0, 0, false
	}
	lam := num / den
	if lam <= 0 {
		return 0, 0, false // the ray meets the ground behind the camera (above the horizon)
	}
	px, py, pz := lam*d[0]-c.Tx, lam*d[1]-c.Ty, lam*d[2]-c.Tz
	xw = r[0]*px + r[3]*py + r[6]*pz
	yw = r[1]*px + r[4]*py + r[7]*pz
	return xw, yw, true
}
