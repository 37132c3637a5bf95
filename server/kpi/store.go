package kpi

import (
	"context"
	"fmt"

	"github.com/waihu/waihu/store"
)

// FromStore loads the call records and list sizes q needs and computes its
// report: one campaign's, or every campaign's when q.CampaignID is 0. Only
// the records attempted in the query's window are read. An unknown campaign
// is store.ErrNotFound.
func FromStore(ctx context.Context, st store.Store, q Query) (Report, error) {
	var ids []int64
	if q.CampaignID != 0 {
		if _, err := st.Campaign(ctx, q.CampaignID); err != nil {
			return Report{}, fmt.Errorf("kpis of campaign %d: %w", q.CampaignID, err)
		}
		ids = []int64{q.CampaignID}
	} else {
		cs, err := st.Campaigns(ctx)
		if err != nil {
			return Report{}, fmt.Errorf("kpis of every campaign: %w", err)
		}
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
	}
	lists, err := ListsFromStore(ctx, st, ids...)
	if err != nil {
		return Report{}, fmt.Errorf("kpis: %w", err)
	}
	records, err := st.CallRecordsBetween(ctx, q.CampaignID, q.From, q.To)
	if err != nil {
		return Report{}, fmt.Errorf("kpis: %w", err)
	}
	return Compute(records, lists, q), nil
}

// ListsFromStore counts the contacts of each campaign, for Window.SetLists.
func ListsFromStore(ctx context.Context, st store.Store, campaignIDs ...int64) (ListStats, error) {
	lists := ListStats{}
	for _, id := range campaignIDs {
		counts, err := st.CountContacts(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("count contacts of campaign %d: %w", id, err)
		}
		n := 0
		for _, c := range counts {
			n += c
		}
		lists[id] = n
	}
	return lists, nil
}
