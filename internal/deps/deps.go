//go:build tools

// Package deps pins the project's direct dependencies while packages are built up.
package deps

import (
	_ "github.com/emiago/sipgo"
	_ "github.com/go-audio/wav"
	_ "github.com/pion/rtcp"
	_ "github.com/pion/rtp"
	_ "github.com/pion/sdp/v3"
	_ "github.com/spf13/cobra"
	_ "github.com/zaf/g711"
	_ "go.uber.org/goleak"
	_ "go.yaml.in/yaml/v3"
	_ "gonum.org/v1/gonum/dsp/fourier"
)
