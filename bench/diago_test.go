package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestDiagoPeerBuildsAndRuns builds the diago peer in its own module and
// runs a 10-call step, when Go can reach diago (module cache or proxy).
func TestDiagoPeerBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	src, err := filepath.Abs("diagopeer")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := BuildDiagoPeer(ctx, src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := DiagoStep(bin, 2*time.Second, time.Second, 35000, false)(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.Line())
	if res.Peer != "diago" || res.Established != 10 || res.PacketsReceived < 1500 || res.SendDev.N < 1500 {
		t.Errorf("diago step %+v", res)
	}
}
