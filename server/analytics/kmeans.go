package analytics

import (
	"math"
	"math/rand/v2"
)

// points is n rows of d standardised features, row-major. has marks the
// values present (nil: all are); a missing value is 0, the feature's mean.
type points struct {
	x    []float64
	has  []bool
	n, d int
}

func (p points) row(i int) []float64 { return p.x[i*p.d : (i+1)*p.d] }

// dist is the squared distance from point i to c over the features i has,
// scaled up by d / present (the partial distance strategy for k-means with
// missing values): a missing feature neither pulls the point towards the
// mean nor hides it from a cluster.
func (p points) dist(i int, c []float64) float64 {
	if p.has == nil {
		return sqDist(p.row(i), c)
	}
	s, n := 0.0, 0
	for f, v := range p.row(i) {
		if p.has[i*p.d+f] {
			t := v - c[f]
			s += t * t
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s * float64(p.d) / float64(n)
}

// pairDist is the partial squared distance between points i and j over the
// features both have.
func (p points) pairDist(i, j int) float64 {
	if p.has == nil {
		return sqDist(p.row(i), p.row(j))
	}
	a, b := p.row(i), p.row(j)
	s, n := 0.0, 0
	for f := range a {
		if p.has[i*p.d+f] && p.has[j*p.d+f] {
			t := a[f] - b[f]
			s += t * t
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s * float64(p.d) / float64(n)
}

func sqDist(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		t := a[i] - b[i]
		s += t * t
	}
	return s
}

// clustering is one k-means result.
type clustering struct {
	k         int
	centroids []float64 // k rows of d
	assign    []int
	inertia   float64
}

// kmeansPP picks k initial centroids by k-means++ (Arthur & Vassilvitskii
// 2007): the first uniformly, each next one with probability proportional to
// its squared distance from the nearest chosen centroid.
func kmeansPP(rng *rand.Rand, p points, k int) []float64 {
	c := make([]float64, 0, k*p.d)
	c = append(c, p.row(rng.IntN(p.n))...)
	dist := make([]float64, p.n)
	for i := range dist {
		dist[i] = p.dist(i, c[:p.d])
	}
	for len(c) < k*p.d {
		total := 0.0
		for _, v := range dist {
			total += v
		}
		next := 0
		if total == 0 {
			// Every point sits on a centroid: any point will do.
			next = rng.IntN(p.n)
		} else {
			r := rng.Float64() * total
			for next = 0; next < p.n-1; next++ {
				r -= dist[next]
				if r < 0 {
					break
				}
			}
		}
		c = append(c, p.row(next)...)
		last := c[len(c)-p.d:]
		for i := range dist {
			dist[i] = min(dist[i], p.dist(i, last))
		}
	}
	return c
}

// lloyd runs Lloyd's iterations from the given centroids until no point
// changes cluster or maxIter passes.
func lloyd(p points, k int, centroids []float64, maxIter int) clustering {
	assign := make([]int, p.n)
	for i := range assign {
		assign[i] = -1
	}
	counts := make([]int, k)
	present := make([]int, k*p.d)
	for iter := 0; iter < maxIter; iter++ {
		changed := false
		for i := 0; i < p.n; i++ {
			best, bestD := 0, math.Inf(1)
			for j := 0; j < k; j++ {
				if d := p.dist(i, centroids[j*p.d:(j+1)*p.d]); d < bestD {
					best, bestD = j, d
				}
			}
			if assign[i] != best {
				assign[i], changed = best, true
			}
		}
		if !changed {
			break
		}
		clear(centroids)
		clear(counts)
		clear(present)
		for i, j := range assign {
			counts[j]++
			c := centroids[j*p.d : (j+1)*p.d]
			for f, v := range p.row(i) {
				if p.has == nil || p.has[i*p.d+f] {
					c[f] += v
					present[j*p.d+f]++
				}
			}
		}
		for j := 0; j < k; j++ {
			c := centroids[j*p.d : (j+1)*p.d]
			if counts[j] == 0 {
				// An emptied cluster takes the point farthest from its
				// centroid, so k clusters stay k.
				far, farD := 0, -1.0
				for i, a := range assign {
					if d := p.dist(i, centroids[a*p.d:(a+1)*p.d]); d > farD {
						far, farD = i, d
					}
				}
				copy(c, p.row(far))
				continue
			}
			for f := range c {
				if n := present[j*p.d+f]; n > 0 {
					c[f] /= float64(n)
				}
			}
		}
	}
	inertia := 0.0
	for i, j := range assign {
		inertia += p.dist(i, centroids[j*p.d:(j+1)*p.d])
	}
	return clustering{k: k, centroids: centroids, assign: assign, inertia: inertia}
}

// kmeans keeps the lowest-inertia result of several seeded k-means++ starts.
func kmeans(rng *rand.Rand, p points, k, restarts, maxIter int) clustering {
	var best clustering
	for r := 0; r < restarts; r++ {
		c := lloyd(p, k, kmeansPP(rng, p, k), maxIter)
		if r == 0 || c.inertia < best.inertia {
			best = c
		}
	}
	return best
}

// pairDistances holds the distances between the points of a sample, computed
// once and shared by the silhouettes of every k tried.
type pairDistances struct {
	idx []int
	tri []float32 // condensed upper triangle, row-major
}

func newPairDistances(p points, sample []int) pairDistances {
	n := len(sample)
	pd := pairDistances{idx: sample, tri: make([]float32, n*(n-1)/2)}
	k := 0
	for a := 0; a < n; a++ {
		for b := a + 1; b < n; b++ {
			pd.tri[k] = float32(math.Sqrt(p.pairDist(sample[a], sample[b])))
			k++
		}
	}
	return pd
}

// at is the distance between sample positions a and b, a ≠ b.
func (pd pairDistances) at(a, b int) float64 {
	if a > b {
		a, b = b, a
	}
	n := len(pd.idx)
	return float64(pd.tri[a*(2*n-a-1)/2+b-a-1])
}

// silhouette is the mean silhouette coefficient (Rousseeuw 1987) over the
// sample: for each point, (b − a) / max(a, b) with a its mean distance to its
// own cluster and b to the nearest other cluster. It is in [−1, 1]; higher
// means better separated clusters.
func silhouette(c clustering, pd pairDistances) float64 {
	if c.k < 2 {
		return 0
	}
	sum := make([]float64, c.k)
	cnt := make([]int, c.k)
	total, n := 0.0, 0
	for ai, i := range pd.idx {
		clear(sum)
		clear(cnt)
		for bi, j := range pd.idx {
			if ai == bi {
				continue
			}
			sum[c.assign[j]] += pd.at(ai, bi)
			cnt[c.assign[j]]++
		}
		own := c.assign[i]
		if cnt[own] == 0 {
			n++ // a singleton's silhouette is 0 by convention
			continue
		}
		a := sum[own] / float64(cnt[own])
		b := math.Inf(1)
		for j := range sum {
			if j != own && cnt[j] > 0 {
				b = min(b, sum[j]/float64(cnt[j]))
			}
		}
		if math.IsInf(b, 1) {
			continue
		}
		if m := max(a, b); m > 0 {
			total += (b - a) / m
		}
		n++
	}
	if n == 0 {
		return 0
	}
	return total / float64(n)
}
