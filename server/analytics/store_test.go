package analytics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/waihu/waihu/store"
)

func TestFromStoreHelpersLoadOneCampaign(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.OpenSQLite(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.CreateCampaign(ctx, store.Campaign{Name: "spring"})
	if err != nil {
		t.Fatal(err)
	}
	planted, _, _ := plantedContacts(9)
	for i := range planted {
		planted[i].ID, planted[i].Phone = 0, fmt.Sprintf("+8613900%06d", i)
	}
	if _, err := st.AddContacts(ctx, c.ID, planted); err != nil {
		t.Fatal(err)
	}
	contacts, err := st.Contacts(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	opt := SegmentOptions{Seed: 3, KMax: 4}
	got, err := SegmentsFromStore(ctx, st, c.ID, opt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Segments(contacts, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || got.K != 3 {
		t.Errorf("from store %+v\nwant %+v (k 3)", got, want)
	}

	if _, err := SegmentsFromStore(ctx, st, c.ID+1, opt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("segments of an unknown campaign: %v, want ErrNotFound", err)
	}
	if _, err := ForecastFromStore(ctx, st, c.ID+1, ForecastOptions{Now: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("forecast of an unknown campaign: %v, want ErrNotFound", err)
	}
	f, err := ForecastFromStore(ctx, st, c.ID, ForecastOptions{Now: t0})
	if err != nil || len(f.Hours) != 0 {
		t.Errorf("forecast of a campaign never called: %+v, %v; want no hours", f, err)
	}
}
