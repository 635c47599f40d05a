package signals

import (
	"math"

	"github.com/intersect-oss/intersect/events"
)

// PoissonCI is the exact (Garwood 1936) two-sided confidence interval for the
// mean of a Poisson count k at the given level (e.g. 0.95):
// lower = χ²(α/2; 2k)/2, upper = χ²(1−α/2; 2k+2)/2, written here as gamma
// quantiles with scale 1 (χ²(p; 2s)/2 is the p-quantile of Gamma(s, 1)).
func PoissonCI(k int, level float64) (lo, hi float64) {
	alpha := 1 - level
	if k > 0 {
		lo = gammaQuantile(alpha/2, float64(k))
	}
	hi = gammaQuantile(1-alpha/2, float64(k+1))
	return lo, hi
}

// NewRate returns count/exposure scaled by per (e.g. 1000 for "per 1,000
// crossing pedestrians") with its exact 95 % interval. Zero exposure gives a
// zero rate with an infinite upper bound replaced by 0: callers check
// exposure against the minimum-exposure rule before using a rate.
func NewRate(name string, count int, exposure, per float64) events.Rate {
	r := events.Rate{Name: name, Count: count, Exposure: exposure, CILevel: 0.95}
	if exposure <= 0 {
		return r
	}
	lo, hi := PoissonCI(count, r.CILevel)
	r.Value = float64(count) / exposure * per
	r.CILow = lo / exposure * per
	r.CIHigh = hi / exposure * per
	return r
}

// gammaQuantile inverts the regularized lower incomplete gamma P(a, x) by
// bisection on a bracket that is widened until it holds p. Bisection is slow
// next to Newton but cannot diverge, and 200 halvings reach float precision.
func gammaQuantile(p, a float64) float64 {
	if p <= 0 {
		return 0
	}
	lo, hi := 0.0, math.Max(1, a)
	for gammaP(a, hi) < p {
		lo = hi
		hi *= 2
	}
	for i := 0; i < 200 && hi-lo > 1e-12*math.Max(1, hi); i++ {
		mid := (lo + hi) / 2
		if gammaP(a, mid) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// gammaP is the regularized lower incomplete gamma function P(a, x), by its
// series for x < a+1 and by Lentz's continued fraction for Q = 1 − P
// otherwise (Numerical Recipes, 3rd ed., §6.2).
func gammaP(a, x float64) float64 {
	if x <= 0 {
		return 0
	}
	lg, _ := math.Lgamma(a)
	if x < a+1 {
		sum, term := 1/a, 1/a
		for n := 1; n < 1000; n++ {
			term *= x / (a + float64(n))
			sum += term
			if math.Abs(term) < math.Abs(sum)*1e-15 {
				break
			}
		}
		return sum * math.Exp(-x+a*math.Log(x)-lg)
	}
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 1000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return 1 - math.Exp(-x+a*math.Log(x)-lg)*h
}
