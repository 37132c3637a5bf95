package bench

import (
	"github.com/waihu/waihu/bench/measure"

	"fmt"
	"image/color"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var peerColors = map[string]color.Color{
	"waihu": color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"diago": color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	// waihu on its other frame path (--compare-frames).
	"waihu/" + string(FramesReadFrame): color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	"waihu/" + string(FramesOnFrame):   color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// PlotChannels draws the report into a PNG: CPU per step, p99 deviation at
// the receivers, and loss, each against concurrent calls, one line a peer.
func PlotChannels(r *Report, path string) error {
	byPeer := map[string][]measure.StepResult{}
	var peers []string
	for _, s := range r.Steps {
		if _, ok := byPeer[s.Peer]; !ok {
			peers = append(peers, s.Peer)
		}
		byPeer[s.Peer] = append(byPeer[s.Peer], s)
	}
	sort.Strings(peers)
	panels := []struct {
		title, y string
		val      func(measure.StepResult) float64
		limit    float64
	}{
		{"Process CPU", "CPU % of one core", func(s measure.StepResult) float64 { return s.CPUPct }, -1},
		{"Send-interval deviation p99 (arrivals)", "ms", func(s measure.StepResult) float64 { return s.RecvDev.P99Ms }, float64(r.Limit.MaxP99Dev) / 1e6},
		{"Packet loss", "%", func(s measure.StepResult) float64 { return s.LossPct }, r.Limit.MaxLossPct},
	}
	const w, h = 8 * vg.Inch, 9 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "concurrent calls"
		p.Y.Label.Text = pn.y
		p.X.Min, p.Y.Min = 0, 0
		p.Legend.Top, p.Legend.Left = true, true
		p.Add(plotter.NewGrid())
		maxX := 0.0
		for _, peer := range peers {
			steps := byPeer[peer]
			pts := make(plotter.XYs, len(steps))
			for j, s := range steps {
				pts[j].X, pts[j].Y = float64(s.Calls), pn.val(s)
				maxX = max(maxX, pts[j].X)
			}
			line, scatter, err := plotter.NewLinePoints(pts)
			if err != nil {
				return fmt.Errorf("plot %s of %s: %w", pn.title, peer, err)
			}
			if c, ok := peerColors[peer]; ok {
				line.Color, scatter.Color = c, c
			}
			p.Add(line, scatter)
			p.Legend.Add(fmt.Sprintf("%s (held %d)", peer, r.Held[peer]), line, scatter)
		}
		if pn.limit > 0 && maxX > 0 {
			lim, err := plotter.NewLine(plotter.XYs{{X: 0, Y: pn.limit}, {X: maxX, Y: pn.limit}})
			if err == nil {
				lim.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
				lim.Color = color.Gray{Y: 0x60}
				p.Add(lim)
				p.Legend.Add("limit", lim)
			}
		}
		p.Draw(tiles.At(dc, 0, i))
	}
	return savePNG(img, path)
}
