package nlu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waihu/waihu/speech"
)

func TestRegisterBuildsTheClassifierFromAnIntentsFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "intents.yaml")
	os.WriteFile(good, []byte("intents:\n  affirm: [yes, yeah, sure]\n  deny: [no, nope, never]\n"), 0o644)
	r := speech.NewRegistry()
	Register(r)
	u, err := r.Understander("classifier", speech.Options{"intents": good, "threshold": "0.3"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := u.Understand(context.Background(), "yeah")
	if err != nil || got.Intent != "affirm" {
		t.Fatalf("Understand(yeah) = %+v, %v", got, err)
	}
	tests := []struct {
		name string
		opts speech.Options
		want string
	}{
		{"no file", nil, "no intents file configured: set intents"},
		{"missing file", speech.Options{"intents": filepath.Join(dir, "none.yaml")}, "read intents"},
		{"bad threshold", speech.Options{"intents": good, "threshold": "high"}, `threshold="high"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Understander("classifier", tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := r.Understander("classifier", nil); !errors.Is(err, speech.ErrEngineUnavailable) {
		t.Errorf("no file: %v is not ErrEngineUnavailable", err)
	}
}
